"""Athena: the boto3 adapter (no Restate), its calls as durable steps, and the result pages."""
