"""The Agent Skills format, as a pure library shared by the services: parsing, validation,
safe bundles, versions, evals and rubrics. No I/O beyond the bytes it is given."""
