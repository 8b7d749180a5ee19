"""Small pieces the functions share: input validation, settings, secrets and Restate's error messages."""
