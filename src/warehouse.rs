//! Reading the metadata of a warehouse (a data source: Doris or MySQL, which both speak the MySQL
//! protocol) from its `information_schema`, with sqlx's native MySQL driver.
//!
//! Servers differ in the types of `information_schema` columns (MariaDB reports text where MySQL 8
//! reports BLOB, varbinary or unsigned BIGINT), so every query casts to `CHAR` or `SIGNED` and text is
//! decoded from raw bytes: the decoding is the same whatever the server.

use std::cmp::Ordering;
use std::time::Duration;

use futures_util::TryStreamExt as _;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlDatabaseError, MySqlRow};
use sqlx::{ConnectOptions as _, Connection as _, Row as _};

use crate::error::{Error, ErrorKind, Reason, Result};
use crate::scheduler::dolphin::Secret;

/// Where a data source is and how to log in to it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port (9030 for a Doris FE, 3306 for MySQL).
    pub port: u16,
    /// The user to log in as.
    pub user: String,
    /// The user's password.
    pub password: Secret,
    /// The default database; may be empty.
    pub database: String,
    /// How long to wait for a connection (and the login) before giving up.
    pub connect_timeout: Duration,
}

impl Endpoint {
    /// `host:port`, with an IPv6 address in brackets, for messages.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// What a data source says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `SELECT VERSION()`.
    pub version: String,
}

/// A column of a warehouse table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseColumn {
    /// The column name.
    pub name: String,
    /// The column type as the server spells it (`COLUMN_TYPE`), in lowercase: `varchar(64)`, `bigint(20)`.
    pub data_type: String,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Whether it is part of the primary key (`COLUMN_KEY = 'PRI'`).
    pub primary_key: bool,
    /// The column comment; empty when none.
    pub comment: String,
    /// Its position in the table, from 1.
    pub position: i32,
}

/// A base table of a warehouse database, with its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarehouseTable {
    /// The database (schema) it is in, as the server spells it.
    pub database: String,
    /// The table name.
    pub name: String,
    /// The table comment; empty when none.
    pub comment: String,
    /// The number of rows, as estimated by the server's statistics.
    pub rows: Option<i64>,
    /// The size of its data in bytes, as reported by the server.
    pub data_bytes: Option<i64>,
    /// When it was last changed (`UPDATE_TIME`, or `CREATE_TIME` when the server does not track
    /// changes), as `yyyy-MM-dd HH:mm:ss` in the server's time zone.
    pub updated_at: Option<String>,
    /// Its columns, in position order.
    pub columns: Vec<WarehouseColumn>,
}

/// Databases of the server itself, which hold no warehouse tables.
const SYSTEM_DATABASES: [&str; 5] =
    ["information_schema", "mysql", "performance_schema", "sys", "__internal_schema"];

// `ORDER BY HEX(TABLE_NAME)` in both scan queries: ordering by the name itself would follow its
// collation, which is case-insensitive on MariaDB and MySQL but byte-wise on Doris. The hex digits
// of the UTF-8 bytes sort the same under every collation, and in the order of the bytes, which is
// how Rust compares strings; the merge of the two streams relies on that.

/// The base tables of one database whose names are LIKE a pattern, in byte order of their names.
const TABLES_SQL: &str = "SELECT CAST(TABLE_NAME AS CHAR), CAST(TABLE_COMMENT AS CHAR), \
     CAST(TABLE_ROWS AS SIGNED), CAST(DATA_LENGTH AS SIGNED), \
     CAST(DATE_FORMAT(COALESCE(UPDATE_TIME, CREATE_TIME), '%Y-%m-%d %H:%i:%s') AS CHAR) \
     FROM information_schema.TABLES \
     WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' AND TABLE_NAME LIKE ? \
     ORDER BY HEX(TABLE_NAME)";

/// The columns of the tables (and views) of one database whose names are LIKE a pattern, in the order
/// of `TABLES_SQL`, then by position.
const COLUMNS_SQL: &str = "SELECT CAST(TABLE_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), \
     CAST(COLUMN_TYPE AS CHAR), CAST(IS_NULLABLE AS CHAR), CAST(COLUMN_KEY AS CHAR), \
     CAST(COLUMN_COMMENT AS CHAR), CAST(ORDINAL_POSITION AS SIGNED) \
     FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE ? \
     ORDER BY HEX(TABLE_NAME), ORDINAL_POSITION";

/// Logs in to the data source and asks for its version.
pub async fn test(endpoint: &Endpoint) -> Result<ServerInfo> {
    let mut connection = connect(endpoint).await?;
    // Without parameters, `raw_sql` takes the text protocol, which every server speaks.
    let row = sqlx::raw_sql("SELECT CAST(VERSION() AS CHAR)")
        .fetch_one(&mut connection)
        .await
        .map_err(|error| failure(endpoint, &endpoint.database, error))?;
    let version = text(&row, 0).map_err(|error| failure(endpoint, &endpoint.database, error))?;
    close(connection).await;
    Ok(ServerInfo { version })
}

/// The databases of the data source the user can see, without the server's own (`information_schema`,
/// `mysql`, `performance_schema`, `sys`, `__internal_schema`), in byte order.
pub async fn databases(endpoint: &Endpoint) -> Result<Vec<String>> {
    let fail = |error| failure(endpoint, &endpoint.database, error);
    let mut connection = connect(endpoint).await?;
    let rows = sqlx::raw_sql("SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA")
        .fetch_all(&mut connection)
        .await
        .map_err(fail)?;
    close(connection).await;
    let mut names = rows.iter().map(|row| text(row, 0)).collect::<Result<Vec<_>, _>>().map_err(fail)?;
    names.retain(|name| !SYSTEM_DATABASES.iter().any(|system| system.eq_ignore_ascii_case(name)));
    names.sort();
    Ok(names)
}

/// Streams every base table (not views; Doris reports its tables as base tables too) of `database`
/// whose name matches the SQL LIKE `table_pattern` (`""` = all), in byte order of the names, with its
/// columns, awaiting `each` once per table (so a slow consumer slows the read rather than piling
/// tables up), and returns how many tables it saw.
///
/// Memory stays bounded by one table's columns: the tables and the columns are read as two ordered
/// streams, on two connections, and merged. An error of `each` stops the scan and is returned as is.
/// While `each` is awaited the server waits to send, and MySQL drops a client that does not read for
/// `net_write_timeout` (60 s by default): `each` should hand tables on rather than do long work.
///
/// The database and the pattern are bound as parameters, so the server must serve prepared statements
/// for general queries (older Doris releases serve them for point queries only).
pub async fn scan_tables<Fut>(
    endpoint: &Endpoint,
    database: &str,
    table_pattern: &str,
    mut each: impl FnMut(WarehouseTable) -> Fut,
) -> Result<u64>
where
    Fut: Future<Output = Result<()>>,
{
    let (mut tables, mut columns) = tokio::try_join!(connect(endpoint), connect(endpoint))?;
    let found = sqlx::query(
        "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(database)
    .fetch_optional(&mut tables)
    .await
    .and_then(|row| row.map(|row| text(&row, 0)).transpose())
    .map_err(|error| failure(endpoint, database, error))?;
    let Some(schema) = found else {
        close(tables).await;
        close(columns).await;
        return Err(Error::new(
            ErrorKind::NotFound,
            Reason::DataSourceDatabaseNotFound,
            format!("the data source at {} has no database {database:?}", endpoint.address()),
        )
        .with_metadata("host", &endpoint.host)
        .with_metadata("port", endpoint.port.to_string())
        .with_metadata("database", database));
    };
    let pattern = if table_pattern.is_empty() { "%" } else { table_pattern };
    let seen = merge(endpoint, &mut tables, &mut columns, &schema, pattern, &mut each).await?;
    // Only after a complete read: closing drains what is left of a result, which an early return
    // would make a full read of the rest. Dropping the connections instead just hangs up.
    close(tables).await;
    close(columns).await;
    Ok(seen)
}

/// Reads the tables on one connection and the columns on the other, both in byte order of the table
/// names, and hands each table with its columns to `each`.
async fn merge<Fut: Future<Output = Result<()>>>(
    endpoint: &Endpoint,
    tables: &mut MySqlConnection,
    columns: &mut MySqlConnection,
    schema: &str,
    pattern: &str,
    each: &mut impl FnMut(WarehouseTable) -> Fut,
) -> Result<u64> {
    let fail = |error| failure(endpoint, schema, error);
    let mut table_rows = sqlx::query(TABLES_SQL).bind(schema).bind(pattern).fetch(tables);
    let mut column_rows = sqlx::query(COLUMNS_SQL).bind(schema).bind(pattern).fetch(columns);
    // The first column of the next table, read while looking for the end of the current one.
    let mut pending: Option<(String, WarehouseColumn)> = None;
    let mut seen = 0;
    while let Some(row) = table_rows.try_next().await.map_err(fail)? {
        let mut table = decode_table(&row, schema).map_err(fail)?;
        loop {
            let (owner, column) = match pending.take() {
                Some(next) => next,
                None => match column_rows.try_next().await.map_err(fail)? {
                    Some(row) => decode_column(&row).map_err(fail)?,
                    None => break,
                },
            };
            match owner.as_str().cmp(&table.name) {
                // A view's column, or one of a table created or dropped between the two queries.
                Ordering::Less => {}
                Ordering::Equal => table.columns.push(column),
                Ordering::Greater => {
                    pending = Some((owner, column));
                    break;
                }
            }
        }
        seen += 1;
        each(table).await?;
    }
    Ok(seen)
}

/// A row of `TABLES_SQL`.
fn decode_table(row: &MySqlRow, schema: &str) -> Result<WarehouseTable, sqlx::Error> {
    Ok(WarehouseTable {
        database: schema.to_owned(),
        name: text(row, 0)?,
        comment: text(row, 1)?,
        rows: row.try_get(2)?,
        data_bytes: row.try_get(3)?,
        updated_at: optional_text(row, 4)?,
        columns: Vec::new(),
    })
}

/// A row of `COLUMNS_SQL`: the name of the column's table, and the column.
fn decode_column(row: &MySqlRow) -> Result<(String, WarehouseColumn), sqlx::Error> {
    let position: i64 = row.try_get(6)?;
    let column = WarehouseColumn {
        name: text(row, 1)?,
        data_type: text(row, 2)?.to_lowercase(),
        nullable: text(row, 3)?.eq_ignore_ascii_case("YES"),
        primary_key: text(row, 4)?.eq_ignore_ascii_case("PRI"),
        comment: text(row, 5)?,
        position: i32::try_from(position).map_err(|error| sqlx::Error::Decode(Box::new(error)))?,
    };
    Ok((text(row, 0)?, column))
}

/// The text in column `index`, or `""` for NULL.
fn text(row: &MySqlRow, index: usize) -> Result<String, sqlx::Error> {
    Ok(optional_text(row, index)?.unwrap_or_default())
}

/// The text in column `index`. Decoded from bytes, because sqlx refuses to decode a string the server
/// labels with the binary collation, as some servers do for some `information_schema` columns.
fn optional_text(row: &MySqlRow, index: usize) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get(index)?;
    Ok(bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// A connection to the data source, within the endpoint's connect timeout.
async fn connect(endpoint: &Endpoint) -> Result<MySqlConnection> {
    let mut options = MySqlConnectOptions::new()
        .host(&endpoint.host)
        .port(endpoint.port)
        .username(&endpoint.user)
        // sqlx changes the session's sql_mode and time zone by default. Reading metadata needs
        // neither, Doris does not know every MySQL sql_mode, and times should read as the server's
        // users see them.
        .pipes_as_concat(false)
        .no_engine_substitution(false)
        .timezone(None);
    if !endpoint.password.expose().is_empty() {
        options = options.password(endpoint.password.expose());
    }
    if !endpoint.database.is_empty() {
        options = options.database(&endpoint.database);
    }
    match tokio::time::timeout(endpoint.connect_timeout, options.connect()).await {
        Ok(connected) => connected.map_err(|error| failure(endpoint, &endpoint.database, error)),
        Err(_) => Err(unreachable(
            endpoint,
            format!("no answer within {} ms", endpoint.connect_timeout.as_millis()),
        )),
    }
}

/// Says goodbye to the server. A failure to do so is of no consequence once the work is done, and the
/// connection is gone either way.
async fn close(connection: MySqlConnection) {
    if let Err(error) = connection.close().await {
        tracing::debug!(%error, "closing a data source connection failed");
    }
}

/// The error for `error`, which happened while talking to `endpoint` about `database` (empty: none).
fn failure(endpoint: &Endpoint, database: &str, error: sqlx::Error) -> Error {
    let address = endpoint.address();
    let server = match &error {
        sqlx::Error::Database(database_error) => database_error.try_downcast_ref::<MySqlDatabaseError>(),
        _ => None,
    };
    let mapped = match server {
        // 1045: wrong user or password. 1044: the user may not use the default database; a problem
        // of the same login settings, which retrying will not fix.
        Some(server) if matches!(server.number(), 1044 | 1045) => Error::new(
            ErrorKind::FailedPrecondition,
            Reason::DataSourceLoginFailed,
            format!("the data source at {address} refused user {:?}: {}", endpoint.user, server.message()),
        )
        .with_metadata("user", &endpoint.user),
        Some(server) if server.number() == 1049 => Error::new(
            ErrorKind::NotFound,
            Reason::DataSourceDatabaseNotFound,
            format!("the data source at {address} has no database {database:?}: {}", server.message()),
        ),
        Some(server) => Error::new(
            ErrorKind::Unavailable,
            Reason::DataSourceUnreachable,
            format!("the data source at {address} failed: {} (error {})", server.message(), server.number()),
        )
        .with_metadata("server_error", server.number().to_string()),
        None => {
            let why = match &error {
                sqlx::Error::Io(io) => io.to_string(),
                other => other.to_string(),
            };
            unreachable(endpoint, why)
        }
    };
    let mapped =
        mapped.with_metadata("host", &endpoint.host).with_metadata("port", endpoint.port.to_string());
    if database.is_empty() { mapped } else { mapped.with_metadata("database", database) }
}

/// The error of a data source that cannot be reached, and why.
fn unreachable(endpoint: &Endpoint, why: String) -> Error {
    Error::new(
        ErrorKind::Unavailable,
        Reason::DataSourceUnreachable,
        format!("cannot reach data source at {}: {why}", endpoint.address()),
    )
    .with_metadata("host", &endpoint.host)
    .with_metadata("port", endpoint.port.to_string())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use sqlx::AssertSqlSafe;

    use super::*;

    /// The MariaDB or MySQL server to test against.
    fn server_url() -> String {
        std::env::var("TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
    }

    /// The endpoint of the test server, with a 5 s connect timeout.
    fn endpoint() -> Endpoint {
        let url = url::Url::parse(&server_url()).expect("TEST_MYSQL_URL is a URL");
        Endpoint {
            host: url.host_str().unwrap_or("127.0.0.1").to_owned(),
            port: url.port().unwrap_or(3306),
            user: if url.username().is_empty() { "root".to_owned() } else { url.username().to_owned() },
            // Taken as written: the test URLs carry no percent-encoded passwords.
            password: Secret::new(url.password().unwrap_or("")),
            database: String::new(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// Creates the scratch database `db`: three tables, a view, a few rows, fresh statistics.
    async fn set_up(admin: &mut MySqlConnection, db: &str) -> Result<(), sqlx::Error> {
        let statements = [
            format!("CREATE DATABASE `{db}`"),
            format!(
                "CREATE TABLE `{db}`.ods_orders (
                    id BIGINT NOT NULL COMMENT 'order id',
                    customer VARCHAR(64) NOT NULL COMMENT 'who ordered',
                    amount DECIMAL(10,2) NULL COMMENT '合计 (total)',
                    placed_at DATETIME NULL,
                    PRIMARY KEY (id)
                ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='orders from the shop'"
            ),
            format!(
                "CREATE TABLE `{db}`.ods_users (id INT NOT NULL, name VARCHAR(32) NOT NULL) \
                 ENGINE=InnoDB COMMENT='users'"
            ),
            // Upper case sorts before lower case in byte order but not in MariaDB's collation.
            format!(
                "CREATE TABLE `{db}`.Z_calendar (day DATE NOT NULL, label VARCHAR(16) NULL) ENGINE=InnoDB"
            ),
            // Between ods_orders and ods_users: its columns must be skipped.
            format!("CREATE VIEW `{db}`.ods_orders_v AS SELECT id, amount FROM `{db}`.ods_orders"),
            format!(
                "INSERT INTO `{db}`.ods_orders VALUES (1, 'ann', 10.50, NULL), \
                 (2, 'bob', NULL, '2024-01-02 03:04:05'), (3, 'cy', 7.00, NULL)"
            ),
            format!("INSERT INTO `{db}`.ods_users VALUES (1, 'ann'), (2, 'bob')"),
            format!("ANALYZE TABLE `{db}`.ods_orders, `{db}`.ods_users, `{db}`.Z_calendar"),
        ];
        for statement in statements {
            sqlx::raw_sql(AssertSqlSafe(statement)).execute(&mut *admin).await?;
        }
        Ok(())
    }

    /// Everything the tests look at, gathered before the scratch database is dropped.
    struct Observed {
        info: Result<ServerInfo>,
        databases: Result<Vec<String>>,
        all: Result<(u64, Vec<WarehouseTable>)>,
        ods: Result<(u64, Vec<WarehouseTable>)>,
        ods_users: Result<(u64, Vec<WarehouseTable>)>,
        stopped: (Result<u64>, usize),
        default_database: Result<Vec<String>>,
    }

    async fn scan(endpoint: &Endpoint, db: &str, pattern: &str) -> Result<(u64, Vec<WarehouseTable>)> {
        let mut tables = Vec::new();
        let seen = scan_tables(endpoint, db, pattern, |table| {
            tables.push(table);
            std::future::ready(Ok(()))
        })
        .await?;
        Ok((seen, tables))
    }

    async fn observe(db: &str) -> Observed {
        let endpoint = endpoint();
        let mut calls = 0;
        let stopped = scan_tables(&endpoint, db, "", |_| {
            calls += 1;
            std::future::ready(Err(Error::internal("stop here")))
        })
        .await;
        Observed {
            info: test(&endpoint).await,
            databases: databases(&endpoint).await,
            all: scan(&endpoint, db, "").await,
            ods: scan(&endpoint, db, "ods\\_%").await,
            ods_users: scan(&endpoint, db, "ods\\_u%").await,
            stopped: (stopped, calls),
            default_database: databases(&Endpoint { database: db.to_owned(), ..endpoint.clone() }).await,
        }
    }

    fn names(tables: &[WarehouseTable]) -> Vec<&str> {
        tables.iter().map(|table| table.name.as_str()).collect()
    }

    fn column(
        name: &str,
        data_type: &str,
        nullable: bool,
        key: bool,
        comment: &str,
        position: i32,
    ) -> WarehouseColumn {
        WarehouseColumn {
            name: name.to_owned(),
            data_type: data_type.to_owned(),
            nullable,
            primary_key: key,
            comment: comment.to_owned(),
            position,
        }
    }

    #[tokio::test]
    async fn reads_the_metadata_of_a_mysql_server() {
        let options = MySqlConnectOptions::from_str(&server_url()).expect("TEST_MYSQL_URL");
        let mut admin = options.connect().await.expect("the test MariaDB answers");
        let db = format!("dp_wh_{}", uuid::Uuid::new_v4().simple());
        let set_up = set_up(&mut admin, &db).await;
        let observed = match set_up {
            Ok(()) => Ok(observe(&db).await),
            Err(error) => Err(error),
        };
        // Before any assertion, so that a failing one leaves nothing behind.
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS `{db}`")))
            .execute(&mut admin)
            .await
            .expect("drop the scratch database");
        let observed = observed.expect("set up the scratch database");

        let info = observed.info.expect("test");
        assert!(info.version.chars().next().is_some_and(|c| c.is_ascii_digit()), "{info:?}");

        let databases = observed.databases.expect("databases");
        assert!(databases.contains(&db), "{databases:?}");
        for system in ["information_schema", "mysql", "performance_schema", "sys"] {
            assert!(!databases.iter().any(|name| name == system), "{databases:?}");
        }
        assert!(databases.is_sorted(), "{databases:?}");
        assert_eq!(observed.default_database.expect("databases with a default database"), databases);

        let (seen, tables) = observed.all.expect("scan all");
        assert_eq!(seen, 3);
        // In byte order; a server with lower_case_table_names folds Z_calendar to lower case.
        let expected = if tables[0].name == "Z_calendar" {
            vec!["Z_calendar", "ods_orders", "ods_users"]
        } else {
            vec!["ods_orders", "ods_users", "z_calendar"]
        };
        assert_eq!(names(&tables), expected);
        let orders = tables.iter().find(|table| table.name == "ods_orders").expect("ods_orders");
        assert_eq!(orders.database, db);
        assert_eq!(orders.comment, "orders from the shop");
        assert_eq!(orders.rows, Some(3));
        assert!(orders.data_bytes.is_some_and(|bytes| bytes > 0), "{orders:?}");
        let updated_at = orders.updated_at.as_deref().expect("updated_at");
        assert!(
            updated_at.len() == 19
                && updated_at.char_indices().all(|(i, c)| match i {
                    4 | 7 => c == '-',
                    10 => c == ' ',
                    13 | 16 => c == ':',
                    _ => c.is_ascii_digit(),
                }),
            "{updated_at}"
        );
        assert_eq!(
            orders.columns,
            vec![
                column("id", "bigint(20)", false, true, "order id", 1),
                column("customer", "varchar(64)", false, false, "who ordered", 2),
                column("amount", "decimal(10,2)", true, false, "合计 (total)", 3),
                column("placed_at", "datetime", true, false, "", 4),
            ]
        );
        let users = tables.iter().find(|table| table.name == "ods_users").expect("ods_users");
        assert_eq!(users.comment, "users");
        assert_eq!(users.rows, Some(2));
        assert_eq!(
            users.columns,
            vec![
                column("id", "int(11)", false, false, "", 1),
                column("name", "varchar(32)", false, false, "", 2)
            ]
        );
        let calendar =
            tables.iter().find(|table| table.name.eq_ignore_ascii_case("Z_calendar")).expect("calendar");
        assert_eq!(calendar.comment, "");
        assert_eq!(calendar.rows, Some(0));
        assert_eq!(
            calendar.columns,
            vec![
                column("day", "date", false, false, "", 1),
                column("label", "varchar(16)", true, false, "", 2)
            ]
        );

        let (seen, tables) = observed.ods.expect("scan ods_%");
        assert_eq!((seen, names(&tables)), (2, vec!["ods_orders", "ods_users"]));
        assert_eq!(tables[0].columns.len(), 4);
        assert_eq!(tables[1].columns.len(), 2);
        let (seen, tables) = observed.ods_users.expect("scan ods_u%");
        assert_eq!((seen, names(&tables)), (1, vec!["ods_users"]));
        assert_eq!(tables[0].columns.len(), 2);

        let (stopped, calls) = observed.stopped;
        assert_eq!(stopped.expect_err("each failed").message, "stop here");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn an_unknown_database_is_not_found() {
        let missing = format!("dp_wh_missing_{}", uuid::Uuid::new_v4().simple());
        let error = scan(&endpoint(), &missing, "").await.expect_err("no such database");
        assert_eq!((error.kind, error.reason), (ErrorKind::NotFound, Reason::DataSourceDatabaseNotFound));
        assert!(error.message.contains(&missing), "{}", error.message);
        assert_eq!(error.metadata.get("database"), Some(&missing));

        // As the default database, the server refuses it at login (error 1049).
        let error =
            test(&Endpoint { database: missing.clone(), ..endpoint() }).await.expect_err("no such database");
        assert_eq!((error.kind, error.reason), (ErrorKind::NotFound, Reason::DataSourceDatabaseNotFound));
        assert_eq!(error.metadata.get("database"), Some(&missing));
    }

    #[tokio::test]
    async fn a_wrong_password_is_a_failed_login_that_does_not_show_the_password() {
        let password = format!("wrong-{}", uuid::Uuid::new_v4().simple());
        let endpoint = Endpoint { password: Secret::new(password.clone()), ..endpoint() };
        let error = test(&endpoint).await.expect_err("wrong password");
        assert_eq!(
            (error.kind, error.reason),
            (ErrorKind::FailedPrecondition, Reason::DataSourceLoginFailed)
        );
        assert!(error.message.contains(&endpoint.user), "{}", error.message);
        assert!(!error.message.contains(&password), "{}", error.message);
        assert!(!format!("{error:?}").contains(&password), "{error:?}");
        assert!(!format!("{endpoint:?}").contains(&password), "{endpoint:?}");
        assert_eq!(
            databases(&endpoint).await.expect_err("wrong password").reason,
            Reason::DataSourceLoginFailed
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.local_addr().expect("address").port()
        };
        let endpoint = Endpoint { host: "127.0.0.1".into(), port, ..endpoint() };
        let error = test(&endpoint).await.expect_err("nothing listens");
        assert_eq!((error.kind, error.reason), (ErrorKind::Unavailable, Reason::DataSourceUnreachable));
        assert!(
            error.message.starts_with(&format!("cannot reach data source at 127.0.0.1:{port}: ")),
            "{}",
            error.message
        );
        assert_eq!(error.metadata.get("port"), Some(&port.to_string()));
        let error = scan(&endpoint, "anything", "").await.expect_err("nothing listens");
        assert_eq!(error.reason, Reason::DataSourceUnreachable);
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        // The kernel accepts the connection, but nobody sends the server greeting.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port,
            connect_timeout: Duration::from_millis(200),
            ..endpoint()
        };
        let error = test(&endpoint).await.expect_err("no greeting");
        assert_eq!(error.reason, Reason::DataSourceUnreachable);
        assert!(error.message.ends_with("no answer within 200 ms"), "{}", error.message);
        drop(listener);
    }

    #[tokio::test]
    async fn an_unknown_host_is_unreachable() {
        let endpoint = Endpoint { host: "no-such-host.invalid".into(), ..endpoint() };
        let error = test(&endpoint).await.expect_err("no such host");
        assert_eq!(error.reason, Reason::DataSourceUnreachable);
        assert!(
            error.message.starts_with("cannot reach data source at no-such-host.invalid:"),
            "{}",
            error.message
        );
    }
}
