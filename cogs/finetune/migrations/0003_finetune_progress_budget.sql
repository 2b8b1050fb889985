-- The budget reservation holding a job's estimated training cost until its real cost is in the
-- ledger (kept here so a restart still releases it), and the progress the status message shows:
-- the step, total steps and training loss of the last milestone posted, so a milestone is edited
-- in once and nothing is edited when nothing changed.
ALTER TABLE finetune_jobs ADD COLUMN reservation_id INTEGER;
ALTER TABLE finetune_jobs ADD COLUMN progress_step INTEGER;
ALTER TABLE finetune_jobs ADD COLUMN progress_total INTEGER;
ALTER TABLE finetune_jobs ADD COLUMN train_loss REAL;

-- The estimated tokens of one pass over an uploaded training file (from the check at upload), so
-- a job on an uploaded file is estimated and held against budgets like one on an attachment.
ALTER TABLE finetune_files ADD COLUMN tokens INTEGER;
