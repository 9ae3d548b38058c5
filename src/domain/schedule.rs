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

impl CronSchedule {
    /// The same schedule in the Quartz syntax DolphinScheduler takes (`sec min hour dom month dow
    /// year`): seconds 0, `?` in the day field left open, Quartz weekday numbers (1 = SUN) and
    /// any year. `5 4 * * *` → `0 5 4 * * ? *`.
    ///
    /// Unix cron fires when either day field matches if both are restricted; Quartz cannot say
    /// that, so such a schedule is refused.
    pub fn to_quartz(&self) -> Result<String, String> {
        let [minute, hour, dom, month, dow] = &self.fields;
        let (dom, dow) = match (dom.as_str(), dow.as_str()) {
            (_, "*") => (dom.clone(), "?".to_owned()),
            ("*", _) => ("?".to_owned(), quartz_weekdays(dow)?),
            _ => {
                return Err(format!(
                    "restricts both the day of month ({dom}) and the day of week ({dow}); DolphinScheduler's \
                     Quartz schedules cannot fire on either, so keep one of them `*`"
                ));
            }
        };
        Ok(format!("0 {minute} {hour} {dom} {month} {dow} *"))
    }
}

/// A unix day-of-week field as a Quartz list of weekday names. Names avoid the numbering
/// difference (unix 0/7 = Sunday, Quartz 1 = Sunday) and ranges that wrap past Saturday.
fn quartz_weekdays(field: &str) -> Result<String, String> {
    let spec = &FIELDS[4];
    let mut days = [false; 7];
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => (range, step.parse::<u32>().map_err(|e| e.to_string())?),
            None => (item, 1),
        };
        let (low, high) = match (range, range.split_once('-')) {
            ("*", _) => (0, 6),
            (_, Some((low, high))) => (value(low, spec)?, value(high, spec)?),
            (single, None) if step > 1 => (value(single, spec)?, 6),
            (single, None) => (value(single, spec)?, value(single, spec)?),
        };
        for day in (low..=high).step_by(step as usize) {
            days[(day % 7) as usize] = true;
        }
    }
    if days.iter().all(|d| *d) {
        return Ok("*".to_owned());
    }
    let names: Vec<&str> = (0..7).filter(|d| days[*d]).map(|d| WEEKDAYS[d]).collect();
    Ok(names.join(","))
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
    fn converts_to_quartz() {
        let cases = [
            ("5 4 * * *", "0 5 4 * * ? *"),
            ("*/15 * * * *", "0 */15 * * * ? *"),
            ("0 2 1,15 * *", "0 0 2 1,15 * ? *"),
            ("0 9 * * 1-5", "0 0 9 ? * MON,TUE,WED,THU,FRI *"),
            ("0 9 * * 0", "0 0 9 ? * SUN *"),
            ("0 9 * * 7", "0 0 9 ? * SUN *"),
            ("0 9 * * 5-7", "0 0 9 ? * SUN,FRI,SAT *"),
            ("0 9 * * */2", "0 0 9 ? * SUN,TUE,THU,SAT *"),
            ("0 9 * * sat,sun", "0 0 9 ? * SUN,SAT *"),
            ("0 9 * JAN-JUN 0-6", "0 0 9 ? JAN-JUN * *"),
        ];
        for (unix, quartz) in cases {
            assert_eq!(CronSchedule::parse(unix).unwrap().to_quartz().unwrap(), quartz, "{unix}");
        }
        let both = CronSchedule::parse("0 9 1 * MON").unwrap().to_quartz().unwrap_err();
        assert!(both.contains("day of month"), "{both}");
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
