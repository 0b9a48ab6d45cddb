"""Knowledge: the tenant's uploaded documents, their indexing status, and the admin search tool."""
