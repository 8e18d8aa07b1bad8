"""Tables of the review store. Facts are append-only; triggers refuse to rewrite them."""

REVIEW_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ai_runs (
    run_id TEXT PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL, created_utc TEXT NOT NULL,
    model_ref TEXT NOT NULL, input_pixel_sha256 TEXT NOT NULL, provenance TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ai_findings (
    run_id TEXT NOT NULL REFERENCES ai_runs(run_id), finding_id TEXT NOT NULL, ordinal INTEGER NOT NULL,
    data TEXT NOT NULL, mask BLOB NOT NULL, PRIMARY KEY (run_id, finding_id));
CREATE TABLE IF NOT EXISTS ai_maps (
    run_id TEXT NOT NULL REFERENCES ai_runs(run_id), kind TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (run_id, kind));
CREATE TABLE IF NOT EXISTS reviews (
    review_id INTEGER PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL,
    run_id TEXT NOT NULL, created_utc TEXT NOT NULL, UNIQUE (series_uid, run_id));
CREATE TABLE IF NOT EXISTS review_versions (
    review_id INTEGER NOT NULL REFERENCES reviews(review_id), version INTEGER NOT NULL,
    opened_utc TEXT NOT NULL, opened_by TEXT NOT NULL, amendment_reason TEXT NOT NULL,
    signed_utc TEXT, signed_by_user TEXT, signed_by_name TEXT, threshold REAL,
    PRIMARY KEY (review_id, version));
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY, review_id INTEGER NOT NULL, version INTEGER NOT NULL, finding_id TEXT NOT NULL,
    decision TEXT NOT NULL, reason TEXT, note TEXT NOT NULL, time_utc TEXT NOT NULL, os_user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mask_edits (
    seq INTEGER PRIMARY KEY, review_id INTEGER NOT NULL, version INTEGER NOT NULL, finding_id TEXT NOT NULL,
    mask_version INTEGER NOT NULL, data TEXT NOT NULL, mask BLOB NOT NULL, time_utc TEXT NOT NULL,
    os_user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS version_runs (
    review_id INTEGER NOT NULL REFERENCES reviews(review_id), version INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES ai_runs(run_id), time_utc TEXT NOT NULL, os_user TEXT NOT NULL,
    PRIMARY KEY (review_id, version));
CREATE TABLE IF NOT EXISTS readings (
    review_id INTEGER NOT NULL REFERENCES reviews(review_id), version INTEGER NOT NULL, mode TEXT NOT NULL,
    time_utc TEXT NOT NULL, os_user TEXT NOT NULL, PRIMARY KEY (review_id, version));
CREATE TABLE IF NOT EXISTS reveals (
    review_id INTEGER NOT NULL REFERENCES reviews(review_id), version INTEGER NOT NULL,
    time_utc TEXT NOT NULL, os_user TEXT NOT NULL, PRIMARY KEY (review_id, version));
CREATE TABLE IF NOT EXISTS reading_outcomes (
    review_id INTEGER NOT NULL, version INTEGER NOT NULL, finding_id TEXT NOT NULL, outcome TEXT NOT NULL,
    matched_id TEXT NOT NULL, dice REAL NOT NULL, PRIMARY KEY (review_id, version, finding_id));
CREATE TABLE IF NOT EXISTS ood_overrides (
    override_id INTEGER PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL, model_ref TEXT NOT NULL,
    time_utc TEXT NOT NULL, os_user TEXT NOT NULL, display_name TEXT NOT NULL, reason TEXT NOT NULL,
    input_check TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS measurements (
    seq INTEGER PRIMARY KEY, series_uid TEXT NOT NULL, study_uid TEXT NOT NULL, number INTEGER NOT NULL,
    action TEXT NOT NULL, data TEXT NOT NULL, time_utc TEXT NOT NULL, os_user TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS measurements_by_series ON measurements (series_uid, number, seq);
CREATE TABLE IF NOT EXISTS undos (
    seq INTEGER PRIMARY KEY, review_id INTEGER NOT NULL, version INTEGER NOT NULL, finding_id TEXT NOT NULL,
    decision_seq INTEGER NOT NULL UNIQUE REFERENCES decisions(seq), mask_seq INTEGER REFERENCES mask_edits(seq),
    time_utc TEXT NOT NULL, os_user TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reclassifications (
    seq INTEGER PRIMARY KEY, review_id INTEGER NOT NULL, version INTEGER NOT NULL, finding_id TEXT NOT NULL,
    mask_seq INTEGER NOT NULL UNIQUE REFERENCES mask_edits(seq), mask_version INTEGER NOT NULL,
    status TEXT NOT NULL, model_ref TEXT NOT NULL, class_probabilities TEXT NOT NULL, why TEXT NOT NULL,
    time_utc TEXT NOT NULL, os_user TEXT NOT NULL);
"""

# version_runs: an amendment that brought a new AI run (version N shows run X's findings).
# readings: a version read in "read first" mode; reveals (+ reading_outcomes): the AI revealed,
# with what the radiologist had found independently (independent / ai_only / ai_missed).
# ood_overrides: an AI run allowed on a series outside the model's validated range, with the typed reason
# and the input check as JSON; the run's payload names the override it ran under (``review.ood_record``).
# measurements: every change of a viewer measurement of a series (added / edited / deleted), newest row per
# (series, number) wins (``review.measurements``).
# undos: a decision taken back before sign-off (with the mask row written with it, if any); the decision
# and mask rows stay, restore skips them (``ReviewService.undo_last``).
# reclassifications: the class of an edited mask (one row per mask row), recomputed by the run's classifier, or
# why it was not; restore shows it while that mask row is the finding's current one (``review.reclassify``).
_IMMUTABLE = ("ai_runs", "ai_findings", "ai_maps", "reviews", "decisions", "mask_edits", "version_runs", "readings",
              "reveals", "reading_outcomes", "ood_overrides", "measurements", "undos", "reclassifications")  # fmt: skip

TRIGGERS = (
    "\n".join(
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;\n"
        f"CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t} "
        f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END;"
        for t in _IMMUTABLE
    )
    + """
CREATE TRIGGER IF NOT EXISTS signed_versions_final BEFORE UPDATE ON review_versions
    WHEN OLD.signed_utc IS NOT NULL
    BEGIN SELECT RAISE(ABORT, 'a signed review version is read-only'); END;
CREATE TRIGGER IF NOT EXISTS versions_no_delete BEFORE DELETE ON review_versions
    BEGIN SELECT RAISE(ABORT, 'review versions are append-only'); END;
"""
)
