#!/usr/bin/env python3
"""The CDK app's entry point (cdk.json's "app"): every catalog pattern on AWS Lambda, registered with Restate."""

import sys

from stacks.app import build_app
from stacks.config import ConfigError

try:
    build_app().synth()
except ConfigError as problem:
    # The message names the context key and what to set; a traceback would bury it.
    sys.exit(f"error: {problem}")
