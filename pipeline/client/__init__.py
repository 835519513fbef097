"""HTTP client for BigCommerce's Catalog API: rate governor, retries, pagination, errors."""
