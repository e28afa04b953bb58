//! The outcome of checking a history: one result per check, and the run's verdict.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What one check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// The check's name, e.g. `registers linearizable`.
    pub name: String,
    /// How many operations (or objects) it looked at.
    pub checked: usize,
    /// Each violation, explained.
    pub violations: Vec<String>,
    /// Parts it could not decide (a search budget exhausted): never a pass.
    pub undecided: Vec<String>,
}

impl CheckResult {
    /// An empty result for the check `name`.
    pub fn new(name: &str) -> CheckResult {
        CheckResult {
            name: name.to_string(),
            ..CheckResult::default()
        }
    }

    /// Whether it found nothing wrong and decided everything.
    pub fn passed(&self) -> bool {
        self.violations.is_empty() && self.undecided.is_empty()
    }
}

/// Every check's result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// In the order they ran.
    pub checks: Vec<CheckResult>,
}

impl Report {
    /// Whether every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(CheckResult::passed)
    }

    /// `PASS`, or `FAIL <first reason>`: the text after `verdict: `.
    pub fn verdict(&self) -> String {
        if self.checks.is_empty() {
            return "FAIL nothing was checked".into();
        }
        match self.checks.iter().find(|c| !c.passed()) {
            None => "PASS".into(),
            Some(c) => {
                let (what, first) = match c.violations.first() {
                    Some(v) => (c.violations.len(), v.clone()),
                    None => (
                        c.undecided.len(),
                        format!(
                            "undecided: {}",
                            c.undecided.first().cloned().unwrap_or_default()
                        ),
                    ),
                };
                format!("FAIL {}: {what} problem(s), first: {first}", c.name)
            }
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in &self.checks {
            let status = if c.passed() { "ok" } else { "FAILED" };
            writeln!(f, "check {:<34} {:>7} checked  {status}", c.name, c.checked)?;
            for v in c.violations.iter().take(10) {
                writeln!(f, "  violation: {v}")?;
            }
            if c.violations.len() > 10 {
                writeln!(f, "  ... and {} more", c.violations.len() - 10)?;
            }
            for u in c.undecided.iter().take(10) {
                writeln!(f, "  undecided: {u}")?;
            }
        }
        write!(f, "verdict: {}", self.verdict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_names_the_first_failing_check() {
        let mut bad = CheckResult::new("sequential names");
        bad.checked = 3;
        bad.violations.push("name used twice".into());
        let mut ok = CheckResult::new("registers linearizable");
        ok.checked = 5;
        let r = Report {
            checks: vec![ok.clone(), bad],
        };
        assert!(!r.passed());
        assert_eq!(
            r.verdict(),
            "FAIL sequential names: 1 problem(s), first: name used twice"
        );
        let r = Report { checks: vec![ok] };
        assert!(r.passed());
        assert_eq!(r.verdict(), "PASS");
        assert!(r.to_string().ends_with("verdict: PASS"));
    }

    #[test]
    fn undecided_and_empty_are_not_passes() {
        let mut u = CheckResult::new("registers linearizable");
        u.undecided.push("register /r0: budget exhausted".into());
        assert!(!Report { checks: vec![u] }.passed());
        assert!(!Report::default().passed());
        assert_eq!(Report::default().verdict(), "FAIL nothing was checked");
    }
}
