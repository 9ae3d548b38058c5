use std::collections::HashMap;

use proptest::prelude::*;

use super::{SqlDialect, SqlError, SqlLineage, analyze, render_placeholders};

use SqlDialect::{Hive, MySql};

type Case = (&'static str, SqlDialect, &'static [&'static str], &'static [&'static str]);

/// `(sql, dialect, inputs, outputs)`, analysed with [`corpus_params`].
const CORPUS: &[Case] = &[
    // --- plain SELECT: inputs only -------------------------------------
    ("SELECT id, name FROM ods.user_info WHERE id > 10", MySql, &["ods.user_info"], &[]),
    (
        "SELECT u.id, o.amount FROM ods.user_info u \
         JOIN ods.orders AS o ON u.id = o.user_id \
         LEFT JOIN dim.city c ON c.id = u.city_id",
        MySql,
        &["dim.city", "ods.orders", "ods.user_info"],
        &[],
    ),
    ("SELECT a.id FROM ods.a a, ods.b b WHERE a.id = b.id", Hive, &["ods.a", "ods.b"], &[]),
    (
        "SELECT * FROM ods.base WHERE EXISTS (SELECT 1 FROM ods.yes y WHERE y.id = base.id) \
         AND NOT EXISTS (SELECT 1 FROM ods.no n WHERE n.id = base.id)",
        MySql,
        &["ods.base", "ods.no", "ods.yes"],
        &[],
    ),
    (
        "SELECT id, (SELECT max(dt) FROM ods.login_log l WHERE l.uid = u.id) AS last_login \
         FROM ods.user_info u",
        Hive,
        &["ods.login_log", "ods.user_info"],
        &[],
    ),
    (
        "SELECT uid FROM ods.orders GROUP BY uid \
         HAVING sum(amount) > (SELECT avg(total) FROM dw.user_totals)",
        MySql,
        &["dw.user_totals", "ods.orders"],
        &[],
    ),
    (
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM ods.flags) THEN 1 ELSE 0 END AS f FROM ods.base",
        Hive,
        &["ods.base", "ods.flags"],
        &[],
    ),
    (
        "SELECT * FROM (SELECT * FROM (SELECT id FROM ods.deep) a) b \
         WHERE b.id IN (SELECT id FROM ods.x UNION SELECT id FROM ods.y)",
        MySql,
        &["ods.deep", "ods.x", "ods.y"],
        &[],
    ),
    ("SELECT 1 FROM dual", MySql, &[], &[]),
    ("SELECT g.n, t.v FROM generate_series(1, 10) g JOIN ods.t t ON t.n = g.n", MySql, &["ods.t"], &[]),
    (
        "SET @max_id = (SELECT max(id) FROM dw.t);\n\
         SELECT id INTO @last FROM ods.s WHERE id > @max_id LIMIT 1;\n\
         CALL dw.refresh_stats();",
        MySql,
        &["dw.t", "ods.s"],
        &[],
    ),
    (
        "SELECT * FROM `ODS`.`Orders` o JOIN \"dim\".\"Shop\" s ON o.shop_id = s.id",
        Hive,
        &["dim.shop", "ods.orders"],
        &[],
    ),
    // --- INSERT ... SELECT ---------------------------------------------
    (
        "INSERT INTO dw.fact_order (id, amount) \
         SELECT o.id, o.amount FROM ods.orders o INNER JOIN ods.user_info u ON o.user_id = u.id",
        MySql,
        &["ods.orders", "ods.user_info"],
        &["dw.fact_order"],
    ),
    (
        "INSERT INTO dw.vip SELECT * FROM ods.user_info \
         WHERE id IN (SELECT user_id FROM ods.orders WHERE amount > 1000)",
        MySql,
        &["ods.orders", "ods.user_info"],
        &["dw.vip"],
    ),
    (
        "INSERT INTO dw.ids SELECT x.id FROM \
         (SELECT id FROM ods.a UNION ALL SELECT id FROM ods.b) x",
        MySql,
        &["ods.a", "ods.b"],
        &["dw.ids"],
    ),
    (
        "INSERT INTO dw.all_users SELECT id FROM ods.user_a \
         UNION SELECT id FROM ods.user_b UNION ALL SELECT id FROM ods.user_c",
        MySql,
        &["ods.user_a", "ods.user_b", "ods.user_c"],
        &["dw.all_users"],
    ),
    (
        "INSERT INTO `dw`.`Fact_Order` SELECT * FROM `ODS`.`orders`",
        MySql,
        &["ods.orders"],
        &["dw.fact_order"],
    ),
    ("INSERT INTO dw.config (k, v) VALUES ('a', '1'), ('b', '2')", MySql, &[], &["dw.config"]),
    (
        "INSERT IGNORE INTO dw.uv (dt, uv) SELECT dt, count(DISTINCT uid) FROM ods.pv GROUP BY dt \
         ON DUPLICATE KEY UPDATE uv = VALUES(uv)",
        MySql,
        &["ods.pv"],
        &["dw.uv"],
    ),
    (
        "REPLACE INTO dw.dim_city (id, name) SELECT id, name FROM ods.city",
        MySql,
        &["ods.city"],
        &["dw.dim_city"],
    ),
    ("INSERT INTO dw.copy TABLE ods.source_table", MySql, &["ods.source_table"], &["dw.copy"]),
    // --- CTEs ------------------------------------------------------------
    (
        "WITH recent AS (SELECT * FROM ods.orders WHERE dt >= '2024-01-01') \
         INSERT INTO dw.recent_orders SELECT * FROM recent",
        MySql,
        &["ods.orders"],
        &["dw.recent_orders"],
    ),
    ("INSERT INTO dw.t WITH c AS (SELECT id FROM ods.a) SELECT id FROM c", MySql, &["ods.a"], &["dw.t"]),
    (
        "WITH a AS (SELECT * FROM ods.x), \
              b AS (SELECT a.* FROM a JOIN ods.y ON a.id = ods.y.id) \
         INSERT OVERWRITE TABLE dw.z PARTITION (dt = '${bizdate}') SELECT * FROM b",
        Hive,
        &["ods.x", "ods.y"],
        &["dw.z"],
    ),
    (
        "WITH orders AS (SELECT * FROM ods.orders WHERE amount > 0) \
         SELECT * FROM orders JOIN dim.user_info u ON orders.uid = u.id",
        Hive,
        &["dim.user_info", "ods.orders"],
        &[],
    ),
    (
        // Inside its own (non-recursive) definition `orders` is the table.
        "WITH orders AS (SELECT * FROM orders WHERE amount > 0) SELECT * FROM orders",
        MySql,
        &["orders"],
        &[],
    ),
    (
        // The CTE shadows `t` in the first statement only.
        "WITH t AS (SELECT 1 AS id FROM ods.src) SELECT * FROM t;\nSELECT * FROM t",
        MySql,
        &["ods.src", "t"],
        &[],
    ),
    (
        // A CTE is not visible in a sibling subquery's own WITH scope exit.
        "SELECT * FROM (WITH a AS (SELECT 1 FROM ods.p) SELECT * FROM a) x JOIN a ON 1 = 1",
        MySql,
        &["a", "ods.p"],
        &[],
    ),
    (
        "WITH RECURSIVE tree AS (\
           SELECT id, pid FROM ods.org WHERE pid IS NULL \
           UNION ALL SELECT o.id, o.pid FROM ods.org o JOIN tree t ON o.pid = t.id) \
         INSERT INTO dw.org_tree SELECT * FROM tree",
        MySql,
        &["ods.org"],
        &["dw.org_tree"],
    ),
    // --- Hive INSERT OVERWRITE / INTO TABLE ------------------------------
    (
        "INSERT OVERWRITE TABLE dw.dwd_order PARTITION (dt='${bizdate}') \
         SELECT id, amount FROM ods.ods_order WHERE dt = '${bizdate}'",
        Hive,
        &["ods.ods_order"],
        &["dw.dwd_order"],
    ),
    (
        "INSERT INTO TABLE dw.access_log PARTITION (dt) SELECT ip, url, dt FROM ods.access_log",
        Hive,
        &["ods.access_log"],
        &["dw.access_log"],
    ),
    (
        // Read before written: both input and output.
        "INSERT OVERWRITE TABLE dw.user_snapshot \
         SELECT * FROM dw.user_snapshot WHERE is_deleted = 0",
        Hive,
        &["dw.user_snapshot"],
        &["dw.user_snapshot"],
    ),
    (
        "INSERT OVERWRITE TABLE dw.item_tags \
         SELECT id, tag FROM ods.items LATERAL VIEW explode(split(tags, ',')) t AS tag",
        Hive,
        &["ods.items"],
        &["dw.item_tags"],
    ),
    (
        "INSERT OVERWRITE TABLE dw.dws_user_1d PARTITION (dt='$[yyyy-MM-dd-1]')\n\
         SELECT u.id, count(o.id)\n\
         FROM ods.user_info u\n\
         LEFT JOIN (SELECT * FROM ods.orders WHERE dt = '$[yyyy-MM-dd-1]') o ON u.id = o.uid\n\
         WHERE u.dt = '$[add_months(yyyyMMdd,-1)]'\n\
         GROUP BY u.id",
        Hive,
        &["ods.orders", "ods.user_info"],
        &["dw.dws_user_1d"],
    ),
    (
        // Doris speaks MySQL but accepts Hive-style overwrite.
        "INSERT OVERWRITE TABLE dw.t PARTITION (p20240101) SELECT * FROM ods.s",
        MySql,
        &["ods.s"],
        &["dw.t"],
    ),
    (
        "FROM ods.events e\n\
         INSERT OVERWRITE TABLE dw.clicks PARTITION (dt='2024-01-01') SELECT e.id WHERE e.kind = 'click'\n\
         INSERT OVERWRITE TABLE dw.views PARTITION (dt='2024-01-01') SELECT e.id WHERE e.kind = 'view'",
        Hive,
        &["ods.events"],
        &["dw.clicks", "dw.views"],
    ),
    (
        "WITH valid AS (SELECT * FROM ods.events WHERE id IS NOT NULL)\n\
         FROM valid v\n\
         INSERT OVERWRITE TABLE dw.kinds SELECT DISTINCT v.kind\n\
         INSERT INTO TABLE dw.ids SELECT v.id WHERE v.id IN (SELECT id FROM valid)",
        Hive,
        &["ods.events"],
        &["dw.ids", "dw.kinds"],
    ),
    ("INSERT OVERWRITE LOCAL DIRECTORY '/tmp/export' SELECT * FROM dw.report", Hive, &["dw.report"], &[]),
    (
        "LOAD DATA INPATH '/data/raw/2024-01-01' OVERWRITE INTO TABLE ods.raw_log \
         PARTITION (dt='2024-01-01')",
        Hive,
        &[],
        &["ods.raw_log"],
    ),
    // --- CREATE TABLE / VIEW ----------------------------------------------
    (
        "CREATE TABLE dw.tmp_stat AS SELECT uid, count(*) AS cnt FROM ods.orders GROUP BY uid",
        MySql,
        &["ods.orders"],
        &["dw.tmp_stat"],
    ),
    (
        "CREATE TABLE IF NOT EXISTS dw.user_orc STORED AS ORC AS SELECT * FROM ods.user_info",
        Hive,
        &["ods.user_info"],
        &["dw.user_orc"],
    ),
    ("CREATE TABLE dw.orders_bak LIKE dw.orders", MySql, &["dw.orders"], &["dw.orders_bak"]),
    ("CREATE TABLE IF NOT EXISTS dw.t_new LIKE dw.t_old", Hive, &["dw.t_old"], &["dw.t_new"]),
    (
        "CREATE EXTERNAL TABLE IF NOT EXISTS ods.ext_log (ip STRING, url STRING) \
         PARTITIONED BY (dt STRING) STORED AS PARQUET LOCATION '/warehouse/ods/ext_log'",
        Hive,
        &[],
        &["ods.ext_log"],
    ),
    (
        "CREATE VIEW dw.v_user AS SELECT u.id, c.name FROM ods.user_info u \
         LEFT JOIN dim.city c ON u.city = c.id",
        MySql,
        &["dim.city", "ods.user_info"],
        &["dw.v_user"],
    ),
    (
        "CREATE MATERIALIZED VIEW dw.mv_shop AS SELECT shop_id, count(*) FROM ods.orders \
         GROUP BY shop_id",
        MySql,
        &["ods.orders"],
        &["dw.mv_shop"],
    ),
    (
        "CREATE OR REPLACE VIEW dw.v_orders AS SELECT * FROM ods.orders WHERE amount > 0",
        Hive,
        &["ods.orders"],
        &["dw.v_orders"],
    ),
    (
        // A plain CREATE does not hide the table's existing data.
        "CREATE TABLE IF NOT EXISTS dw.acc (id INT, v BIGINT);\n\
         INSERT OVERWRITE TABLE dw.acc SELECT id, sum(v) FROM \
         (SELECT id, v FROM dw.acc UNION ALL SELECT id, v FROM ods.delta) x GROUP BY id",
        Hive,
        &["dw.acc", "ods.delta"],
        &["dw.acc"],
    ),
    // --- MERGE / UPDATE / DELETE ------------------------------------------
    (
        "MERGE INTO dw.dim_user t \
         USING (SELECT * FROM ods.user_delta WHERE dt = '2024-01-01') s ON t.id = s.id \
         WHEN MATCHED THEN UPDATE SET t.name = s.name \
         WHEN NOT MATCHED THEN INSERT (id, name) VALUES (s.id, s.name)",
        Hive,
        &["ods.user_delta"],
        &["dw.dim_user"],
    ),
    (
        "MERGE INTO dw.t USING ods.s \
         ON t.id = s.id AND s.region IN (SELECT region FROM dim.region WHERE enabled = 1) \
         WHEN MATCHED AND s.op = 'D' THEN DELETE \
         WHEN MATCHED AND EXISTS (SELECT 1 FROM dim.flag f WHERE f.id = s.id) THEN UPDATE SET v = s.v \
         WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)",
        MySql,
        &["dim.flag", "dim.region", "ods.s"],
        &["dw.t"],
    ),
    (
        "UPDATE dw.user_info u JOIN ods.user_delta d ON u.id = d.id \
         SET u.name = d.name, u.updated_at = NOW() WHERE d.dt = '2024-01-01'",
        MySql,
        &["ods.user_delta"],
        &["dw.user_info"],
    ),
    (
        // The updated table is the one the SET columns belong to.
        "UPDATE ods.src s INNER JOIN dw.target t ON s.id = t.id SET t.flag = 1",
        MySql,
        &["ods.src"],
        &["dw.target"],
    ),
    (
        "UPDATE dw.account SET balance = s.balance FROM ods.balance_snapshot s \
         WHERE dw.account.id = s.id",
        MySql,
        &["ods.balance_snapshot"],
        &["dw.account"],
    ),
    (
        "UPDATE dw.stats SET total = (SELECT count(*) FROM ods.events e WHERE e.uid = dw.stats.uid) \
         WHERE uid IN (SELECT uid FROM ods.active_users)",
        MySql,
        &["ods.active_users", "ods.events"],
        &["dw.stats"],
    ),
    ("UPDATE dw.t SET flag = 0 WHERE id IN (SELECT id FROM ods.expired)", Hive, &["ods.expired"], &["dw.t"]),
    (
        "DELETE FROM dw.orders WHERE user_id IN (SELECT id FROM ods.blacklist)",
        MySql,
        &["ods.blacklist"],
        &["dw.orders"],
    ),
    (
        "DELETE o FROM dw.orders o JOIN ods.refunds r ON o.id = r.order_id \
         WHERE r.dt = '2024-01-01'",
        MySql,
        &["ods.refunds"],
        &["dw.orders"],
    ),
    ("DELETE FROM dw.t1 USING dw.t1 JOIN ods.t2 ON dw.t1.id = ods.t2.id", MySql, &["ods.t2"], &["dw.t1"]),
    ("DELETE FROM dw.events WHERE dt < '2023-01-01'", Hive, &[], &["dw.events"]),
    // --- scripts -------------------------------------------------------------
    (
        "SET @d = '2024-01-01';\n\
         USE dw;\n\
         INSERT INTO fact_x SELECT * FROM ods.x WHERE dt = @d;\n\
         SELECT count(*) FROM fact_x;",
        MySql,
        &["ods.x"],
        &["dw.fact_x"],
    ),
    (
        "USE ods;\nINSERT INTO dw.t SELECT * FROM user_info u JOIN ods.city c ON u.city = c.id",
        MySql,
        &["ods.city", "ods.user_info"],
        &["dw.t"],
    ),
    (
        "set hive.exec.dynamic.partition=true;\n\
         set hive.exec.dynamic.partition.mode=nonstrict;\n\
         set mapreduce.job.queuename=root.etl;\n\
         add jar hdfs:///libs/udf.jar;\n\
         create temporary function my_udf as 'com.example.MyUdf';\n\
         insert overwrite table dw.t partition (dt) select my_udf(a), dt from ods.s;",
        Hive,
        &["ods.s"],
        &["dw.t"],
    ),
    (
        "CREATE TEMPORARY TABLE tmp_user AS SELECT id FROM ods.user_info WHERE active = 1;\n\
         INSERT INTO dw.active_orders SELECT o.* FROM ods.orders o JOIN tmp_user t ON o.uid = t.id;\n\
         DROP TEMPORARY TABLE tmp_user;",
        MySql,
        &["ods.orders", "ods.user_info"],
        &["dw.active_orders"],
    ),
    (
        "CREATE TEMPORARY TABLE tmp_a AS SELECT * FROM ods.a WHERE dt = '$[yyyyMMdd-1]';\n\
         INSERT OVERWRITE TABLE dw.b SELECT * FROM tmp_a;",
        Hive,
        &["ods.a"],
        &["dw.b"],
    ),
    (
        "DROP TABLE IF EXISTS dw.stg_orders;\n\
         CREATE TABLE dw.stg_orders AS SELECT * FROM ods.orders WHERE dt = '${dt}';\n\
         INSERT OVERWRITE TABLE dw.fact_orders SELECT * FROM dw.stg_orders;",
        Hive,
        &["ods.orders"],
        &["dw.fact_orders", "dw.stg_orders"],
    ),
    (
        // Written then dropped: a scratch table, neither input nor output.
        "CREATE TABLE stg AS SELECT * FROM ods.a;\n\
         INSERT INTO dw.b SELECT * FROM stg;\n\
         DROP TABLE stg;",
        MySql,
        &["ods.a"],
        &["dw.b"],
    ),
    (
        "TRUNCATE TABLE dw.daily;\nINSERT INTO dw.daily SELECT * FROM ods.daily;",
        MySql,
        &["ods.daily"],
        &["dw.daily"],
    ),
    (
        "TRUNCATE TABLE dw.daily_h;\nINSERT INTO TABLE dw.daily_h SELECT * FROM ods.daily_h",
        Hive,
        &["ods.daily_h"],
        &["dw.daily_h"],
    ),
    ("DROP TABLE IF EXISTS dw.old_table", MySql, &[], &[]),
    (
        "ALTER TABLE dw.t DROP IF EXISTS PARTITION (dt='2024-01-01');\n\
         INSERT INTO TABLE dw.t PARTITION (dt='2024-01-01') SELECT * FROM ods.s",
        Hive,
        &["ods.s"],
        &["dw.t"],
    ),
    (
        "USE dw;\n\
         CREATE TABLE stg AS SELECT * FROM ods.a;\n\
         INSERT INTO dw.final SELECT * FROM dw.stg",
        Hive,
        &["ods.a"],
        &["dw.final", "dw.stg"],
    ),
    ("USE dw;\nWITH c AS (SELECT * FROM s) INSERT INTO t SELECT * FROM c", Hive, &["dw.s"], &["dw.t"]),
    ("USE default;\nINSERT OVERWRITE TABLE t SELECT * FROM ods.s", Hive, &["ods.s"], &["default.t"]),
    (
        "CREATE TABLE dw.t_new AS SELECT * FROM ods.s;\n\
         RENAME TABLE dw.t TO dw.t_old, dw.t_new TO dw.t;",
        MySql,
        &["dw.t", "ods.s"],
        &["dw.t", "dw.t_old"],
    ),
    (
        "-- daily job\n/* header\n spanning lines */\n\
         INSERT INTO dw.t SELECT * FROM ods.s; -- trailing\n;\n",
        MySql,
        &["ods.s"],
        &["dw.t"],
    ),
    ("EXPLAIN INSERT INTO dw.t SELECT * FROM ods.s", MySql, &[], &[]),
    // --- statements sqlparser rejects, repaired or decomposed -------------
    ("UPDATE dw.t1 a, ods.t2 b SET a.x = b.y WHERE a.id = b.id", MySql, &["ods.t2"], &["dw.t1"]),
    (
        "DELETE t1, t2 FROM dw.t1 INNER JOIN dw.t2 INNER JOIN ods.t3 \
         WHERE t1.id = t2.id AND t2.id = t3.id",
        MySql,
        &["ods.t3"],
        &["dw.t1", "dw.t2"],
    ),
    (
        "INSERT INTO dw.t PARTITION (p20240101) WITH LABEL load_20240101 (a, b) \
         SELECT a, b FROM ods.s",
        MySql,
        &["ods.s"],
        &["dw.t"],
    ),
    (
        "INSERT OVERWRITE TABLE dw.t PARTITION (dt='2024-01-01') IF NOT EXISTS \
         SELECT * FROM ods.s WHERE dt = '2024-01-01'",
        Hive,
        &["ods.s"],
        &["dw.t"],
    ),
    (
        "CREATE TABLE IF NOT EXISTS dw.dws_sales (\n\
           dt DATE COMMENT \"day\",\n\
           shop_id BIGINT,\n\
           amount DECIMAL(18, 2) SUM DEFAULT \"0\"\n\
         ) ENGINE=OLAP AGGREGATE KEY(dt, shop_id)\n\
         PARTITION BY RANGE(dt) ()\n\
         DISTRIBUTED BY HASH(shop_id) BUCKETS 16\n\
         PROPERTIES (\"replication_num\" = \"3\");\n\
         INSERT INTO dw.dws_sales SELECT dt, shop_id, amount FROM ods.sales",
        MySql,
        &["ods.sales"],
        &["dw.dws_sales"],
    ),
    (
        "CREATE TABLE dw.top_shop ENGINE=OLAP DUPLICATE KEY(shop_id) \
         DISTRIBUTED BY HASH(shop_id) BUCKETS 4 PROPERTIES (\"replication_num\" = \"1\") \
         AS SELECT shop_id, sum(amount) AS total FROM ods.sales GROUP BY shop_id",
        MySql,
        &["ods.sales"],
        &["dw.top_shop"],
    ),
    (
        "CREATE VIEW IF NOT EXISTS dw.v_sales (dt, total) COMMENT 'daily sales' \
         AS SELECT dt, sum(amount) FROM ods.sales GROUP BY dt",
        Hive,
        &["ods.sales"],
        &["dw.v_sales"],
    ),
    (
        // A statement that only MySQL parses inside a Hive script.
        "INSERT INTO dw.a SELECT * FROM ods.a;\n\
         REPLACE INTO dw.b SELECT * FROM ods.b;",
        Hive,
        &["ods.a", "ods.b"],
        &["dw.a", "dw.b"],
    ),
];

fn corpus_params() -> HashMap<String, String> {
    HashMap::from([("bizdate".to_owned(), "20240101".to_owned()), ("dt".to_owned(), "2024-01-01".to_owned())])
}

fn lineage(inputs: &[&str], outputs: &[&str]) -> SqlLineage {
    SqlLineage {
        inputs: inputs.iter().map(|s| (*s).to_owned()).collect(),
        outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[test]
fn corpus_has_enough_cases_for_both_dialects() {
    assert!(CORPUS.len() >= 45, "corpus has {} cases", CORPUS.len());
    assert!(CORPUS.iter().filter(|c| c.1 == MySql).count() >= 15);
    assert!(CORPUS.iter().filter(|c| c.1 == Hive).count() >= 15);
}

#[test]
fn corpus() {
    let params = corpus_params();
    let mut failures = Vec::new();
    for (i, (sql, dialect, inputs, outputs)) in CORPUS.iter().enumerate() {
        let expected = lineage(inputs, outputs);
        match analyze(sql, *dialect, &params) {
            Ok(actual) if actual == expected => {}
            other => failures
                .push(format!("#{i} ({dialect:?}) {sql}\n  expected {expected:?}\n  got      {other:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every corpus case parses with the other dialect too (it may fall back),
/// and gives the same lineage: the fall-backs do not change the result.
#[test]
fn corpus_is_dialect_independent() {
    let params = corpus_params();
    let mut failures = Vec::new();
    for (i, (sql, dialect, inputs, outputs)) in CORPUS.iter().enumerate() {
        let other = match dialect {
            MySql => Hive,
            Hive => MySql,
        };
        let expected = lineage(inputs, outputs);
        match analyze(sql, other, &params) {
            Ok(actual) if actual == expected => {}
            got => failures.push(format!("#{i} ({other:?}) {sql}\n  got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// --- errors ----------------------------------------------------------------

fn error(sql: &str, dialect: SqlDialect, params: &HashMap<String, String>) -> SqlError {
    match analyze(sql, dialect, params) {
        Ok(lineage) => panic!("expected an error for {sql:?}, got {lineage:?}"),
        Err(e) => e,
    }
}

/// 1-based line and column of the first occurrence of `needle`.
fn position_of(text: &str, needle: &str) -> (u64, u64) {
    let offset = text.find(needle).expect("needle in text");
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line as u64, column as u64)
}

#[test]
fn empty_input_is_an_error() {
    for sql in ["", "   \n\t  ", "-- only a comment", "/* block */\n-- line\n", ";;\n;"] {
        for dialect in [MySql, Hive] {
            let e = error(sql, dialect, &HashMap::new());
            assert!(e.message.contains("no SQL statement"), "{sql:?}: {e:?}");
            assert_eq!((e.line, e.column), (0, 0));
        }
    }
}

#[test]
fn error_points_at_bad_token_on_one_line() {
    let sql = "SELECT a FROM t WHERE a = = 1";
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &HashMap::new());
        assert_eq!((e.line, e.column), (1, 27), "{e:?}");
        assert!(e.message.contains("found: ="), "{e:?}");
        assert!(!e.message.contains("Line:"), "{e:?}");
    }
}

#[test]
fn a_clause_keyword_is_not_a_table() {
    for dialect in [MySql, Hive] {
        for sql in ["select * from where", "insert into where select 1", "select * from t join on"] {
            let e = error(sql, dialect, &HashMap::new());
            assert_eq!(e.line, 1, "{sql}: {e:?}");
        }
        // Quoted, a keyword is a fine name.
        assert!(analyze("select * from `where`", dialect, &HashMap::new()).is_ok());
    }
}

#[test]
fn error_points_at_bad_token_in_multi_line_script() {
    let sql = "SET x = 1;\n\
               INSERT INTO dw.a SELECT * FROM ods.a;\n\
               \n\
               INSERT INTO dw.b\n\
               SELECT id,\n\
               \x20      name\n\
               FROM ods.b WHERE EXISTS (SELECT 1 FROM ods.c WHERE flag = = 1);\n\
               SELECT 1;";
    let expected = position_of(sql, "= 1)");
    assert_eq!(expected, (7, 59));
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &HashMap::new());
        assert_eq!((e.line, e.column), expected, "{dialect:?}: {e:?}");
        assert!(e.message.contains("found: ="), "{e:?}");
    }
}

#[test]
fn error_inside_in_subquery_is_on_the_right_line() {
    // sqlparser backtracks from `IN (SELECT ...)` to `IN (list)`, so the
    // reported token is the first one the list parse rejects.
    let sql = "SELECT 1;\nSELECT * FROM a\nWHERE id IN (SELECT id FROM b WHERE x = = 1)";
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &HashMap::new());
        assert_eq!((e.line, e.column), (3, 21), "{e:?}");
    }
}

#[test]
fn error_in_second_statement_on_the_same_line() {
    let sql = "SELECT 1; SELECT a FROM t WHERE a = = 1";
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &HashMap::new());
        assert_eq!((e.line, e.column), (1, 37), "{e:?}");
    }
}

#[test]
fn error_message_shows_placeholders_as_written() {
    let e = error("SELECT * FROM t WHERE a = ${x} ${y}", MySql, &HashMap::new());
    assert_eq!(e.message, "Expected: end of statement, found: ${y}");
    assert_eq!((e.line, e.column), (1, 32));
}

#[test]
fn error_in_statement_after_fallback_statements() {
    // The first statement only parses as Hive, the second nowhere.
    let sql = "FROM ods.s INSERT OVERWRITE TABLE dw.a SELECT x;\nSELECT a FROM t WHERE a = = 1;";
    let e = error(sql, MySql, &HashMap::new());
    assert_eq!((e.line, e.column), (2, 27), "{e:?}");
}

#[test]
fn error_position_is_in_the_original_text_after_rendering() {
    let params = HashMap::from([
        ("env".to_owned(), "production".to_owned()),
        ("dt".to_owned(), "2024-01-01".to_owned()),
    ]);
    let sql = "INSERT INTO ods_${env}_t SELECT a FROM s_${env} \
               WHERE dt = '${dt}' AND x = '${unknown.param}' AND y = = 1";
    let expected = position_of(sql, "= 1");
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &params);
        assert_eq!((e.line, e.column), expected, "{e:?}");
    }
}

#[test]
fn error_position_survives_values_with_newlines() {
    let params = HashMap::from([("cols".to_owned(), "a,\n  b,\n  c".to_owned())]);
    let sql = "SELECT ${cols}\nFROM t\nWHERE x = = 1";
    let e = error(sql, MySql, &params);
    assert_eq!((e.line, e.column), (3, 11), "{e:?}");
}

#[test]
fn error_inside_a_value_points_at_the_placeholder() {
    let params = HashMap::from([("cond".to_owned(), "a = = 1".to_owned())]);
    let sql = "SELECT *\nFROM t WHERE ${cond}";
    let e = error(sql, Hive, &params);
    assert_eq!((e.line, e.column), (2, 14), "{e:?}");
}

#[test]
fn error_after_multibyte_characters() {
    let sql = "SELECT '中文名称' AS 名, a FROM t WHERE = 1";
    let e = error(sql, MySql, &HashMap::new());
    assert_eq!((e.line, e.column), position_of(sql, "= 1"), "{e:?}");
}

#[test]
fn unexpected_end_points_after_last_token() {
    let sql = "SELECT a\nFROM t\nWHERE";
    let e = error(sql, MySql, &HashMap::new());
    assert_eq!((e.line, e.column), (3, 6), "{e:?}");
}

#[test]
fn tokenizer_error_is_positioned() {
    let sql = "SELECT 1;\nSELECT 'unterminated FROM t";
    for dialect in [MySql, Hive] {
        let e = error(sql, dialect, &HashMap::new());
        assert_eq!((e.line, e.column), (2, 8), "{e:?}");
        assert!(e.message.to_lowercase().contains("unterminated"), "{e:?}");
    }
}

#[test]
fn chosen_dialect_error_is_reported() {
    let sql = "SELECT * FROM t WHERE a IN (1, 2";
    let e = error(sql, Hive, &HashMap::new());
    assert!(e.line == 1 && e.column > 0, "{e:?}");
    assert!(!e.message.is_empty());
}

#[test]
fn unparseable_non_data_statement_is_skipped_but_others_fail() {
    let ok = analyze(
        "set mapred.job.name = daily job 1;\nINSERT INTO dw.t SELECT * FROM ods.s",
        Hive,
        &HashMap::new(),
    );
    assert_eq!(ok, Ok(lineage(&["ods.s"], &["dw.t"])));
    // Without the `;` the INSERT would be skipped with the SET: an error.
    let e = error(
        "set mapred.job.name = daily job 1\nINSERT INTO dw.t SELECT * FROM ods.s",
        Hive,
        &HashMap::new(),
    );
    assert_eq!((e.line, e.column), (1, 29), "{e:?}");
    let e = error("GARBAGE STATEMENT HERE;", MySql, &HashMap::new());
    assert_eq!((e.line, e.column), (1, 1), "{e:?}");
}

#[test]
fn error_display_includes_position() {
    let e = error("SELECT a FROM t WHERE a = = 1", MySql, &HashMap::new());
    assert!(e.to_string().ends_with("(line 1, column 27)"), "{e}");
}

// --- placeholders ----------------------------------------------------------

#[test]
fn known_placeholders_are_substituted() {
    let params =
        HashMap::from([("dt".to_owned(), "2024-01-01".to_owned()), ("env".to_owned(), "prod".to_owned())]);
    assert_eq!(
        render_placeholders("SELECT * FROM ods_${env}.t WHERE dt = '${dt}'", &params),
        "SELECT * FROM ods_prod.t WHERE dt = '2024-01-01'"
    );
    assert_eq!(render_placeholders("${ dt }", &params), "2024-01-01");
}

#[test]
fn unknown_placeholders_become_stable_tokens() {
    let none = HashMap::new();
    assert_eq!(
        render_placeholders("'${system.biz.date}' ${system.datetime} ods_${env}_user", &none),
        "'dsvar_system_biz_date' dsvar_system_datetime ods_dsvar_env_user"
    );
    assert_eq!(render_placeholders("ods_${env}_user", &none), render_placeholders("ods_${env}_user", &none));
}

#[test]
fn time_expressions_become_literal_safe_tokens() {
    let none = HashMap::new();
    assert_eq!(
        render_placeholders("$[yyyyMMdd] '$[yyyy-MM-dd-1]' $[add_months(yyyyMMdd,-1)]", &none),
        "dstime_yyyymmdd 'dstime_yyyy_mm_dd_1' dstime_add_months_yyyymmdd__1_"
    );
}

#[test]
fn incomplete_placeholders_are_kept() {
    let none = HashMap::new();
    for s in [
        "$", "$$", "${", "${}", "${ }", "$[", "$[]", "${a\n}", "$[a\nb]", "${a${b}", "cost$5", "$x",
        "${a{b}}",
    ] {
        let rendered = render_placeholders(s, &none);
        assert_eq!(rendered.matches('\n').count(), s.matches('\n').count(), "{s:?}");
        assert!(!rendered.contains("dsvar_a_b"), "{s:?} -> {rendered:?}");
    }
    assert_eq!(render_placeholders("${a${b}", &none), "${adsvar_b");
    assert_eq!(render_placeholders("${}", &none), "${}");
}

#[test]
fn values_are_rendered_recursively_but_cycles_terminate() {
    let params = HashMap::from([
        ("a".to_owned(), "${b}_x".to_owned()),
        ("b".to_owned(), "y".to_owned()),
        ("loop".to_owned(), "${loop}".to_owned()),
        ("day".to_owned(), "$[yyyyMMdd-1]".to_owned()),
    ]);
    assert_eq!(render_placeholders("${a}", &params), "y_x");
    assert_eq!(render_placeholders("${loop}", &params), "dsvar_loop");
    assert_eq!(render_placeholders("'${day}'", &params), "'dstime_yyyymmdd_1'");
}

#[test]
fn rendering_keeps_line_count() {
    let none = HashMap::new();
    let sql = "SELECT '${a}',\n $[yyyyMMdd]\n FROM t_${b}\n";
    assert_eq!(render_placeholders(sql, &none).lines().count(), sql.lines().count());
}

#[test]
fn unknown_placeholder_in_identifier_parses_and_is_reported_as_written() {
    let sql = "INSERT INTO ods_${env}_user SELECT * FROM src_${env}.user_info \
               WHERE dt = '${system.biz.date}' AND d = $[yyyyMMdd-1]";
    for dialect in [MySql, Hive] {
        assert_eq!(
            analyze(sql, dialect, &HashMap::new()),
            Ok(lineage(&["src_${env}.user_info"], &["ods_${env}_user"])),
            "{dialect:?}"
        );
        let params = HashMap::from([("env".to_owned(), "prod".to_owned())]);
        assert_eq!(
            analyze(sql, dialect, &params),
            Ok(lineage(&["src_prod.user_info"], &["ods_prod_user"])),
            "{dialect:?}"
        );
    }
}

#[test]
fn placeholder_tables_match_across_statements() {
    let sql = "CREATE TABLE tmp_${env}_x AS SELECT * FROM ods.a;\n\
               INSERT INTO dw.b SELECT * FROM tmp_${env}_x;\n\
               DROP TABLE tmp_${env}_x;";
    assert_eq!(analyze(sql, Hive, &HashMap::new()), Ok(lineage(&["ods.a"], &["dw.b"])));
}

#[test]
fn placeholder_case_is_kept_in_names() {
    assert_eq!(
        analyze("SELECT * FROM DB.T_${bizDate}", MySql, &HashMap::new()),
        Ok(lineage(&["db.t_${bizDate}"], &[]))
    );
}

// --- robustness ----------------------------------------------------------

#[test]
fn long_operator_chains_are_handled_or_rejected_cleanly() {
    let none = HashMap::new();
    let ok = format!("SELECT a FROM ods.t WHERE 1 = 1{}", " OR a = 1".repeat(2_000));
    assert_eq!(analyze(&ok, MySql, &none), Ok(lineage(&["ods.t"], &[])));

    let too_long = format!("SELECT 1{}", " + 1".repeat(50_000));
    let e = error(&too_long, MySql, &none);
    assert!(e.message.contains("too complex"), "{e:?}");
    assert_eq!(e.line, 1);

    let unions = vec!["SELECT id FROM ods.u"; 1_500].join(" UNION ALL ");
    assert_eq!(analyze(&unions, Hive, &none), Ok(lineage(&["ods.u"], &[])));
}

#[test]
fn chains_just_under_the_limit_fit_the_analysis_stack() {
    let none = HashMap::new();
    let plus = format!("SELECT 1{} FROM ods.t", " + 1".repeat(9_900));
    assert_eq!(analyze(&plus, MySql, &none), Ok(lineage(&["ods.t"], &[])));
    let unions = vec!["SELECT id FROM ods.u"; 9_900].join(" UNION ALL ");
    let insert = format!("INSERT INTO dw.t {unions}");
    assert_eq!(analyze(&insert, Hive, &none), Ok(lineage(&["ods.u"], &["dw.t"])));
}

#[test]
fn join_chains_without_on_are_limited() {
    let none = HashMap::new();
    let chain = |n: usize, on: &str| {
        let joins: String = (1..n).map(|i| format!(" LEFT JOIN t{i}{on}")).collect();
        format!("SELECT * FROM t0{joins}")
    };
    assert_eq!(analyze(&chain(200, ""), MySql, &none).map(|l| l.inputs.len()), Ok(200));
    let e = error(&chain(5_000, ""), Hive, &none);
    assert!(e.message.contains("too complex"), "{e:?}");
    assert_eq!(analyze(&chain(3_000, " ON 1 = 1"), MySql, &none).map(|l| l.inputs.len()), Ok(3_000));
}

#[test]
fn pathological_shapes_do_not_crash() {
    let none = HashMap::new();
    let n = 12_000;
    let shapes = [
        format!("SELECT {}1{}", "f(".repeat(n), ")".repeat(n)),
        format!("SELECT {}1{}", "[".repeat(n), "]".repeat(n)),
        format!("SELECT {}1{}", "CASE WHEN 1 THEN ".repeat(n), " END".repeat(n)),
        format!("SELECT {}1", "NOT ".repeat(n)),
        format!("SELECT {}1", "- ".repeat(n)),
        format!("SELECT a{}", "::int".repeat(n)),
        format!("SELECT a{}", " IS NULL".repeat(n)),
        format!("SELECT a{}", "->'x'".repeat(n)),
        format!("SELECT 1{}", " UNION (SELECT 1)".repeat(n)),
        format!("{}SELECT 1{}", "(".repeat(n), ")".repeat(n)),
        format!("SELECT {}", vec!["(SELECT 1)"; n].join(" + ")),
        format!("FROM s {}", "INSERT INTO t SELECT a ".repeat(2_000)),
        "$[".repeat(n),
        "${".repeat(n),
        "'".repeat(n),
        "(".repeat(n),
    ];
    for sql in &shapes {
        for dialect in [MySql, Hive] {
            if let Err(e) = analyze(sql, dialect, &none) {
                assert_ne!(e.message, super::INTERNAL_ERROR);
            }
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let none = HashMap::new();
    for depth in [60, 1_000, 20_000] {
        let parens = format!("SELECT {}1{}", "(".repeat(depth), ")".repeat(depth));
        assert!(analyze(&parens, MySql, &none).is_err(), "{depth}");
        let subqueries =
            format!("SELECT * FROM {}ods.t{}", "(SELECT * FROM ".repeat(depth), ") x".repeat(depth));
        assert!(analyze(&subqueries, Hive, &none).is_err(), "{depth}");
    }
}

#[test]
fn many_statements_are_fine() {
    let script = "INSERT INTO dw.t SELECT * FROM ods.s;\n".repeat(2_000);
    assert_eq!(analyze(&script, MySql, &HashMap::new()), Ok(lineage(&["ods.s"], &["dw.t"])));
}

const FRAGMENTS: &[&str] = &[
    "SELECT",
    "INSERT",
    "INTO",
    "OVERWRITE",
    "TABLE",
    "FROM",
    "WHERE",
    "JOIN",
    "ON",
    "WITH",
    "AS",
    "UNION",
    "ALL",
    "MERGE",
    "USING",
    "WHEN",
    "MATCHED",
    "THEN",
    "UPDATE",
    "SET",
    "DELETE",
    "CREATE",
    "TEMPORARY",
    "VIEW",
    "DROP",
    "TRUNCATE",
    "USE",
    "PARTITION",
    "VALUES",
    "IN",
    "EXISTS",
    "AND",
    "OR",
    "NOT",
    "LIKE",
    "CASE",
    "END",
    "t",
    "db.t",
    "`q`",
    "\"d\"",
    "a.b.c",
    "(",
    ")",
    ",",
    ";",
    "*",
    "=",
    "+",
    "'str'",
    "'",
    "\"",
    "`",
    "--",
    "/*",
    "*/",
    "\n",
    "1",
    "${x}",
    "${",
    "$[yyyyMMdd-1]",
    "$[",
    "}",
    "]",
    "$",
    "中",
    "\\",
    "#",
    "@v",
    "?",
    "::",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(sql in any::<String>()) {
        for dialect in [MySql, Hive] {
            if let Err(e) = analyze(&sql, dialect, &HashMap::new()) {
                prop_assert_ne!(e.message, super::INTERNAL_ERROR);
            }
        }
        let _ = render_placeholders(&sql, &HashMap::new());
    }

    #[test]
    fn sql_like_fragments_never_panic(
        parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..40),
        value in "[a-z_${}\\[\\]\n ]{0,12}",
    ) {
        let sql = parts.join(" ");
        let params = HashMap::from([("x".to_owned(), value)]);
        for dialect in [MySql, Hive] {
            if let Err(e) = analyze(&sql, dialect, &params) {
                let lines = sql.matches('\n').count() as u64 + 1;
                prop_assert!(e.line <= lines, "{e:?} for {sql:?}");
                prop_assert_ne!(e.message, super::INTERNAL_ERROR);
            }
        }
    }

    #[test]
    fn rendering_without_params_keeps_newlines(sql in any::<String>()) {
        let rendered = render_placeholders(&sql, &HashMap::new());
        prop_assert_eq!(rendered.matches('\n').count(), sql.matches('\n').count());
    }

    #[test]
    fn valid_statements_with_noise_in_literals_parse(
        table in "t_[a-z0-9_]{0,10}",
        literal in "[^'\\\\\n]{0,20}",
    ) {
        let sql = format!("INSERT INTO dw.{table} SELECT * FROM ods.{table} WHERE c = '{literal}'");
        for dialect in [MySql, Hive] {
            let result = analyze(&sql, dialect, &HashMap::new());
            let expected = lineage(&[&format!("ods.{table}")], &[&format!("dw.{table}")]);
            prop_assert_eq!(result, Ok(expected));
        }
    }
}
