"""The CORS proxy: lets Python in the page fetch other sites without becoming an SSRF hole."""
