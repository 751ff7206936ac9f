"""Publishing forms: import a study folder, preview, approve, publish; the re-consent worklist."""
