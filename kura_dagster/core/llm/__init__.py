"""The hosted path: an OpenAI-compatible async client with concurrency, retries, a content-keyed cache,
usage and cost accounting, and the Clio procedures (summaries, contrastive names, hierarchy) built on it."""
