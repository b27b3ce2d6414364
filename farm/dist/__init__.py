"""Distribution files (wheels and sdists): names, archive safety, core metadata."""
