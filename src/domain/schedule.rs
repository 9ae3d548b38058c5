//! Unix cron schedules (5 fields: minute hour day-of-month month day-of-week).

use std::fmt;

/// A validated 5-field unix cron expression, kept as written (whitespace normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronSchedule {
    fields: [String; 5],
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTHS: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: [FieldSpec; 5] = [
    FieldSpec { name: "minute", min: 0, max: 59, names: &[] },
    FieldSpec { name: "hour", min: 0, max: 23, names: &[] },
    FieldSpec { name: "day of month", min: 1, max: 31, names: &[] },
    FieldSpec { name: "month", min: 1, max: 12, names: MONTHS },
    // 7 is Sunday too, as in most crons.
    FieldSpec { name: "day of week", min: 0, max: 7, names: WEEKDAYS },
];

impl CronSchedule {
    /// Parses `0 3 * * *`-style expressions; the error says which field is wrong and why.
    pub fn parse(expression: &str) -> Result<Self, String> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(format!(
                "must have 5 fields (minute hour day-of-month month day-of-week), found {}",
                parts.len()
            ));
        }
        for (part, spec) in parts.iter().zip(FIELDS.iter()) {
            check_field(part, spec).map_err(|why| format!("{} field {part:?}: {why}", spec.name))?;
        }
        Ok(Self { fields: std::array::from_fn(|i| parts[i].to_owned()) })
    }

    /// The five fields: minute, hour, day of month, month, day of week.
    pub fn fields(&self) -> &[String; 5] {
        &self.fields
    }
}

impl fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.fields.join(" "))
    }
}

fn check_field(field: &str, spec: &FieldSpec) -> Result<(), String> {
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (item, None),
        };
        if let Some(step) = step {
            let step: u32 = step.parse().map_err(|_| format!("step {step:?} is not a number"))?;
            if step == 0 || step > spec.max {
                return Err(format!("step must be between 1 and {}", spec.max));
            }
        }
        if range == "*" {
            continue;
        }
        match range.split_once('-') {
            Some((low, high)) => {
                let (low, high) = (value(low, spec)?, value(high, spec)?);
                if low > high {
                    return Err(format!("range {range:?} runs backwards"));
                }
            }
            None => {
                value(range, spec)?;
            }
        }
    }
    Ok(())
}

fn value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    if text.is_empty() {
        return Err("has an empty value".into());
    }
    let upper = text.to_ascii_uppercase();
    if let Some(index) = spec.names.iter().position(|name| *name == upper) {
        // Month names count from 1, weekday names from 0 (SUN).
        return Ok(index as u32 + spec.min);
    }
    let number: u32 = text.parse().map_err(|_| format!("{text:?} is not a number"))?;
    if number < spec.min || number > spec.max {
        return Err(format!("{number} is outside {}..={}", spec.min, spec.max));
    }
    Ok(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_expressions() {
        for ok in ["0 3 * * *", "*/15 * * * *", "0 0 1 JAN-JUN MON-FRI", "5 4 * * 0,7", "0 0-23/2 1,15 * *"] {
            assert!(CronSchedule::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(CronSchedule::parse("  0   3 * *  * ").unwrap().to_string(), "0 3 * * *");
    }

    #[test]
    fn rejects_bad_expressions_with_the_field() {
        let cases = [
            ("0 3 * *", "5 fields"),
            ("0 0 3 * * ?", "5 fields"),
            ("60 * * * *", "minute"),
            ("* 24 * * *", "hour"),
            ("* * 0 * *", "day of month"),
            ("* * * 13 *", "month"),
            ("* * * * 8", "day of week"),
            ("*/0 * * * *", "step"),
            ("5-1 * * * *", "backwards"),
            ("a * * * *", "not a number"),
            ("1,,2 * * * *", "empty"),
        ];
        for (expression, expected) in cases {
            let err = CronSchedule::parse(expression).unwrap_err();
            assert!(err.contains(expected), "{expression}: {err}");
        }
    }
}
