"""MLflow: the tags of a run, pushing its pin, asking a tracking store about runs."""
