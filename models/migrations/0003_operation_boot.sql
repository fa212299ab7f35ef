-- Which process journalled an operation. An open operation from another
-- boot of this single-instance app has nobody left to settle it, so
-- Reconcile settles it at once instead of waiting for its age.
ALTER TABLE operations ADD COLUMN boot TEXT NOT NULL DEFAULT '';
