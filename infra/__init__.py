"""Infrastructure: the AWS CDK app (`infra.aws`) and the local stack (`infra.local`)."""
