"""AWS backends for a provisioned stack: S3 artifacts and step cache, SageMaker registry and jobs, CloudWatch, SNS."""
