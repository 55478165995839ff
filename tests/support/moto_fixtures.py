"""IAM fixtures in moto for credtray's integration tests.

Usage: moto_fixtures.py ENDPOINT PREFIX
Creates, under names starting with PREFIX: an IAM user with an access key, two roles anyone in
the account may assume, and a SAML provider; prints them as one JSON object.
"""
import json
import sys

import boto3

endpoint, prefix = sys.argv[1], sys.argv[2]
iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing")
trust = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:AssumeRoleWithSAML"]}]})
iam.create_user(UserName=f"{prefix}-user")
key = iam.create_access_key(UserName=f"{prefix}-user")["AccessKey"]
roles = [iam.create_role(RoleName=f"{prefix}-{name}", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
         for name in ("admin", "deeper", "federated")]
# boto3 wants a metadata document of at least 1000 characters.
metadata = "<EntityDescriptor xmlns='urn:oasis:names:tc:SAML:2.0:metadata' entityID='https://idp.example.com'>" \
    + "<!-- " + "x" * 1000 + " --></EntityDescriptor>"
provider = iam.create_saml_provider(SAMLMetadataDocument=metadata, Name=f"{prefix}-idp")["SAMLProviderArn"]
print(json.dumps({
    "access_key_id": key["AccessKeyId"],
    "secret_access_key": key["SecretAccessKey"],
    "role_arn": roles[0],
    "deeper_role_arn": roles[1],
    "federated_role_arn": roles[2],
    "idp_arn": provider,
}))
