"""Webhook callbacks: WebhookCallbackRouter, a durable target for Stripe webhooks."""
