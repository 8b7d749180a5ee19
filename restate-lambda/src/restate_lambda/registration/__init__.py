"""Registration of Lambda functions with Restate: the admin API client and the CloudFormation handler.

Standard library only (boto3, which Lambda's runtime has, for secrets): :mod:`.custom_resource`
runs as the registration function's Lambda handler, bundled from this folder as it is installed.
"""
