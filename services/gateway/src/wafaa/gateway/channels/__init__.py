"""Connected WhatsApp numbers and Instagram accounts."""
