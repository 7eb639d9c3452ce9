"""`python -m kfplatform drill`: the restore drill against the live sandbox (docs/restore-drill.md)."""
