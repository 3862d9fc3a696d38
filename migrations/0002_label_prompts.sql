-- Human labels carry the prompt text they judged, so the classifier can be
-- retrained from production labels (switchyard classifier train --from-db).
ALTER TABLE labels ADD COLUMN IF NOT EXISTS prompt text;
