"""From a run back to its code: resolve, describe, checkout, restore, prune, share."""
