"""Element-aware chunking with the tenant's size and overlap."""
