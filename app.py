#!/usr/bin/env python3
"""The CDK app's entry point (cdk.json's "app"): every catalog pattern on AWS Lambda, registered with Restate."""

from stacks.app import build_app

build_app().synth()
