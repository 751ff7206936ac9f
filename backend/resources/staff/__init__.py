"""Staff accounts: setup, sign-in with password and TOTP, re-authentication."""
