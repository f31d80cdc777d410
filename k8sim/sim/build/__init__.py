"""Building a run's parts from the validated scenario: nodes, profiles, pod shapes."""
