"""Amazon EMR Serverless job runs as durable promises: the kit, and a small adapter."""
