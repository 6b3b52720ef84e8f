-- Migration crm/0003: customer scores (RFM, churn probability, LTV) with history, and the model registry.
--
-- crm.rfm_segments names the 27 RFM codes (R, F, M digits 1-3, 3 is best) in Russian and English; analysts
-- may reword a name with an UPDATE, the scoring job copies the names into each day's scores.
-- crm.customer_scores keeps one row per customer and as-of date, so segment migrations can be reported;
-- re-scoring a date replaces that date's rows. crm.score_runs records each scoring run.
-- crm.model_registry holds every trained model (churn classifier, LTV model) with its validation figures,
-- its artefact (pickled bytes, loadable by any worker) and the promotion decision; crm.model_calibration is
-- the calibration table of each model on its validation data (per bin of predictions: mean predicted vs
-- mean observed; churn rate for the churn model, realised revenue for LTV).

CREATE TABLE IF NOT EXISTS crm.rfm_segments (
    rfm_code VARCHAR PRIMARY KEY,
    r SMALLINT NOT NULL,
    f SMALLINT NOT NULL,
    m SMALLINT NOT NULL,
    name_ru VARCHAR NOT NULL,
    name_en VARCHAR NOT NULL
);

-- R: 1 давние (lapsed), 2 спящие (sleeping), 3 недавние (recent); F: 1 разовые (one-time), 2 редкие (rare),
-- 3 частые (frequent); M (average check): 1 низкий (low), 2 средний (mid), 3 высокий (high).
INSERT INTO crm.rfm_segments (rfm_code, r, f, m, name_ru, name_en) VALUES
('111', 1, 1, 1, 'давние разовые с низким чеком', 'lapsed, one-time, low check'),
('112', 1, 1, 2, 'давние разовые со средним чеком', 'lapsed, one-time, mid check'),
('113', 1, 1, 3, 'давние разовые с высоким чеком', 'lapsed, one-time, high check'),
('121', 1, 2, 1, 'давние редкие с низким чеком', 'lapsed, rare, low check'),
('122', 1, 2, 2, 'давние редкие со средним чеком', 'lapsed, rare, mid check'),
('123', 1, 2, 3, 'давние редкие с высоким чеком', 'lapsed, rare, high check'),
('131', 1, 3, 1, 'давние частые с низким чеком', 'lapsed, frequent, low check'),
('132', 1, 3, 2, 'давние частые со средним чеком', 'lapsed, frequent, mid check'),
('133', 1, 3, 3, 'давние частые с высоким чеком', 'lapsed, frequent, high check'),
('211', 2, 1, 1, 'спящие разовые с низким чеком', 'sleeping, one-time, low check'),
('212', 2, 1, 2, 'спящие разовые со средним чеком', 'sleeping, one-time, mid check'),
('213', 2, 1, 3, 'спящие разовые с высоким чеком', 'sleeping, one-time, high check'),
('221', 2, 2, 1, 'спящие редкие с низким чеком', 'sleeping, rare, low check'),
('222', 2, 2, 2, 'спящие редкие со средним чеком', 'sleeping, rare, mid check'),
('223', 2, 2, 3, 'спящие редкие с высоким чеком', 'sleeping, rare, high check'),
('231', 2, 3, 1, 'спящие частые с низким чеком', 'sleeping, frequent, low check'),
('232', 2, 3, 2, 'спящие частые со средним чеком', 'sleeping, frequent, mid check'),
('233', 2, 3, 3, 'спящие частые с высоким чеком', 'sleeping, frequent, high check'),
('311', 3, 1, 1, 'недавние разовые с низким чеком', 'recent, one-time, low check'),
('312', 3, 1, 2, 'недавние разовые со средним чеком', 'recent, one-time, mid check'),
('313', 3, 1, 3, 'недавние разовые с высоким чеком', 'recent, one-time, high check'),
('321', 3, 2, 1, 'недавние редкие с низким чеком', 'recent, rare, low check'),
('322', 3, 2, 2, 'недавние редкие со средним чеком', 'recent, rare, mid check'),
('323', 3, 2, 3, 'недавние редкие с высоким чеком', 'recent, rare, high check'),
('331', 3, 3, 1, 'недавние частые с низким чеком', 'recent, frequent, low check'),
('332', 3, 3, 2, 'недавние частые со средним чеком', 'recent, frequent, mid check'),
('333', 3, 3, 3, 'недавние частые с высоким чеком', 'recent, frequent, high check')
ON CONFLICT (rfm_code) DO NOTHING;

CREATE TABLE IF NOT EXISTS crm.customer_scores (
    as_of DATE NOT NULL,
    customer_id BIGINT NOT NULL,
    recency_days INTEGER NOT NULL,
    frequency INTEGER NOT NULL,
    avg_check DOUBLE PRECISION NOT NULL,
    r SMALLINT NOT NULL,
    f SMALLINT NOT NULL,
    m SMALLINT NOT NULL,
    rfm_code VARCHAR NOT NULL,
    segment_ru VARCHAR NOT NULL,
    segment_en VARCHAR NOT NULL,
    churn_probability DOUBLE PRECISION,
    ltv DOUBLE PRECISION,
    churn_model_version INTEGER,
    ltv_model_version INTEGER,
    scored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, customer_id)
);

-- The newest scores of every customer: what chains and reports read by default.
CREATE OR REPLACE VIEW crm.customer_scores_current AS
SELECT s.*
FROM crm.customer_scores AS s
WHERE s.as_of = (SELECT MAX(l.as_of) FROM crm.customer_scores AS l);

CREATE TABLE IF NOT EXISTS crm.score_runs (
    as_of DATE NOT NULL,
    run_key VARCHAR NOT NULL,
    customers BIGINT NOT NULL,
    churn_model_version INTEGER,
    ltv_model_version INTEGER,
    rfm_method VARCHAR NOT NULL,
    rfm_cuts VARCHAR NOT NULL,
    seconds DOUBLE PRECISION NOT NULL,
    scored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (as_of, run_key)
);

CREATE TABLE IF NOT EXISTS crm.model_registry (
    model_name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    trained_at TIMESTAMP NOT NULL,
    train_from DATE NOT NULL,
    train_to DATE NOT NULL,
    validation_as_of DATE NOT NULL,
    horizon_days INTEGER NOT NULL,
    features VARCHAR NOT NULL,
    settings VARCHAR NOT NULL,
    auc DOUBLE PRECISION,
    brier DOUBLE PRECISION,
    metrics VARCHAR NOT NULL,
    artefact BYTEA NOT NULL,
    status VARCHAR NOT NULL,
    decision VARCHAR NOT NULL,
    incumbent_version INTEGER,
    incumbent_metrics VARCHAR,
    decided_at TIMESTAMP NOT NULL,
    retired_at TIMESTAMP,
    PRIMARY KEY (model_name, version),
    CHECK (status IN ('current', 'rejected', 'retired'))
);

CREATE TABLE IF NOT EXISTS crm.model_calibration (
    model_name VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    bin SMALLINT NOT NULL,
    customers BIGINT NOT NULL,
    mean_predicted DOUBLE PRECISION NOT NULL,
    mean_observed DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (model_name, version, bin)
);
