"""Member import page (owned by the import slice); routes are added to the admin blueprint."""
