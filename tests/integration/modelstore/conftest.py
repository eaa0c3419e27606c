from tests.integration.modelstore.fixtures import smollm2, smollm2_cache_dir

__all__ = ["smollm2", "smollm2_cache_dir"]
