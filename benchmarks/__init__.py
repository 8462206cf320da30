"""`make bench`: figures for the durable promise against a plain boto3 polling loop."""
