"""The CDK app's stacks, constructs and bundling: what `cdk synth` / `cdk deploy` build from the catalog."""
