"""Small pieces every pattern uses: input validation and settings."""
