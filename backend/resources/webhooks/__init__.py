"""Webhook subscriptions of a study (docs/webhooks.md)."""
