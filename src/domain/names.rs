//! Rules for the names and free-text attributes people give tables, fields and tasks.

/// Longest table or task name.
pub const MAX_NAME_LEN: usize = 128;
/// Longest database, field or identifier part.
pub const MAX_IDENTIFIER_LEN: usize = 64;
/// Longest owner.
pub const MAX_OWNER_LEN: usize = 128;
/// Longest description or comment.
pub const MAX_TEXT_LEN: usize = 4000;

/// Checks a table name: `ods_user` or `dw.ods_user`, lowercase identifiers.
pub fn check_table_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() > 2 {
        return Err("may be qualified by one database at most (`db.table`)".into());
    }
    for part in parts {
        check_lowercase_identifier(part)?;
    }
    Ok(())
}

/// Checks a database name: one lowercase identifier.
pub fn check_database_name(name: &str) -> Result<(), String> {
    check_lowercase_identifier(name)
}

fn check_lowercase_identifier(part: &str) -> Result<(), String> {
    let mut chars = part.chars();
    match chars.next() {
        None => return Err("has an empty part".into()),
        Some(c) if c.is_ascii_lowercase() || c == '_' => {}
        Some(_) => return Err("must start with a lowercase letter or `_`".into()),
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err("may contain only lowercase letters, digits and `_`".into());
    }
    if part.len() > MAX_IDENTIFIER_LEN {
        return Err(format!("each part must be at most {MAX_IDENTIFIER_LEN} characters"));
    }
    Ok(())
}

/// Checks a task name: lowercase letters, digits, `_` and `-`, starting with a letter.
pub fn check_task_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("must not be empty".into()),
        Some(c) if c.is_ascii_lowercase() => {}
        Some(_) => return Err("must start with a lowercase letter".into()),
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err("may contain only lowercase letters, digits, `_` and `-`".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!("must be at most {MAX_NAME_LEN} characters"));
    }
    Ok(())
}

/// Checks a field (column) name: letters, digits and `_`, not starting with a digit.
pub fn check_field_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    match chars.next() {
        None => return Err("must not be empty".into()),
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        Some(_) => return Err("must start with a letter or `_`".into()),
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("may contain only letters, digits and `_`".into());
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(format!("must be at most {MAX_IDENTIFIER_LEN} characters"));
    }
    Ok(())
}

/// Checks a column type as the warehouse spells it: `bigint`, `varchar(64)`, `decimal(10, 2)`.
pub fn check_field_type(data_type: &str) -> Result<(), String> {
    if data_type.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if data_type.len() > MAX_IDENTIFIER_LEN {
        return Err(format!("must be at most {MAX_IDENTIFIER_LEN} characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '(' | ')' | ',' | ' ' | '<' | '>');
    if !data_type.chars().all(allowed) {
        return Err("may contain only letters, digits, spaces and `_(),<>`".into());
    }
    Ok(())
}

/// Checks a free-text attribute (owner, description, comment): bounded, no control characters
/// other than line breaks and tabs.
pub fn check_text(text: &str, max_chars: usize) -> Result<(), String> {
    if text.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters"));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        for ok in ["ods_user", "dw.ods_user", "_tmp", "a1"] {
            assert_eq!(check_table_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "Ods_user", "1abc", "a.b.c", "a..b", "ods-user", "ods user", "表", "a."] {
            assert!(check_table_name(bad).is_err(), "{bad}");
        }
        assert!(check_table_name(&"a".repeat(129)).is_err());
        assert!(check_table_name(&format!("d.{}", "a".repeat(65))).is_err());
    }

    #[test]
    fn task_names() {
        assert_eq!(check_task_name("load_dwd_user-2"), Ok(()));
        for bad in ["", "_x", "Load", "a b", "a/b", "x;drop"] {
            assert!(check_task_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_rejects_control_characters() {
        assert!(check_text("line\nbreak", 100).is_ok());
        assert!(check_text("bell\u{7}", 100).is_err());
        assert!(check_text("ab", 1).is_err());
    }
}
