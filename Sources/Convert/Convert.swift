// Convert
