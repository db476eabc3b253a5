//! The header section: an ordered list of fields, looked up case-insensitively
//! (RFC 3261 §7.3), with compact forms expanded on input (§7.3.3).

use super::syntax::split_outside;

/// Ordered `(name, value)` header fields. Order matters: Via, Route and Record-Route are lists
/// whose order is the protocol (RFC 3261 §7.3.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    list: Vec<(String, String)>,
}

/// RFC 3261 §7.3.3 and the extension RFCs' compact forms.
const COMPACT: &[(&str, &str)] = &[
    ("v", "Via"),
    ("f", "From"),
    ("t", "To"),
    ("i", "Call-ID"),
    ("m", "Contact"),
    ("l", "Content-Length"),
    ("c", "Content-Type"),
    ("k", "Supported"),
    ("s", "Subject"),
    ("e", "Content-Encoding"),
    ("o", "Event"),
    ("r", "Refer-To"),
    ("u", "Allow-Events"),
    ("x", "Session-Expires"),
];

/// Headers whose comma-joined values are separate entries (RFC 3261 §7.3.1) and whose values
/// never hold a bare comma outside quotes or `<>`. Never the auth headers: their commas separate
/// parameters.
const LIST_HEADERS: &[&str] = &[
    "Via",
    "Route",
    "Record-Route",
    "Contact",
    "Path",
    "Allow",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Allow-Events",
];

/// The full name for a compact one; other names are returned unchanged.
pub fn expand_compact(name: &str) -> &str {
    COMPACT
        .iter()
        .find(|(short, _)| short.eq_ignore_ascii_case(name))
        .map_or(name, |(_, long)| long)
}

/// Replaces CR, LF and other control characters (but not HT) with spaces, so that a value built
/// from untrusted input can never inject a header line.
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
        .collect()
}

impl Headers {
    /// An empty header section.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// The first value of `name` (case-insensitive; compact names work too).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = expand_compact(name);
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` in order, comma lists split for the list headers (Via, Route,
    /// Record-Route, Contact, ...).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        let name = expand_compact(name);
        let split = LIST_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name));
        self.list
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(move |(_, v)| {
                if split {
                    split_outside(v, ',', true)
                } else {
                    vec![v.as_str()]
                }
            })
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// Whether a field called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Appends a field (control characters in `value` become spaces).
    pub fn push(&mut self, name: &str, value: &str) {
        self.list.push((sanitize(name), sanitize(value.trim())));
    }

    /// Inserts a field before all others (e.g. a new top Via, RFC 3261 §16.6 step 8).
    pub fn insert_front(&mut self, name: &str, value: &str) {
        self.list
            .insert(0, (sanitize(name), sanitize(value.trim())));
    }

    /// Replaces every `name` field with one, at the position of the first (or at the end).
    pub fn set(&mut self, name: &str, value: &str) {
        let name = expand_compact(name);
        match self
            .list
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(i) => {
                self.list[i].1 = sanitize(value.trim());
                let mut idx = 0;
                self.list.retain(|(n, _)| {
                    idx += 1;
                    idx - 1 <= i || !n.eq_ignore_ascii_case(name)
                });
            }
            None => self.push(name, value),
        }
    }

    /// Removes every `name` field.
    pub fn remove(&mut self, name: &str) {
        let name = expand_compact(name);
        self.list.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Removes the first value of a list header (e.g. our own Via from a response, §18.1.2),
    /// splitting a comma-joined field if needed. Returns the removed value.
    pub fn pop_first(&mut self, name: &str) -> Option<String> {
        let name = expand_compact(name);
        let i = self
            .list
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))?;
        let parts = split_outside(&self.list[i].1, ',', true);
        if parts.len() <= 1 {
            return Some(self.list.remove(i).1);
        }
        let first = parts[0].trim().to_owned();
        let rest = parts[1..]
            .iter()
            .map(|p| p.trim())
            .collect::<Vec<_>>()
            .join(", ");
        self.list[i].1 = rest;
        Some(first)
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.list.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Appends a field already validated by the parser.
    pub(crate) fn push_raw(&mut self, name: String, value: String) {
        self.list.push((name, value));
    }

    /// Appends to the last field's value (an unfolded continuation line, RFC 3261 §7.3.1).
    pub(crate) fn fold_into_last(&mut self, more: &str) -> Option<usize> {
        let last = self.list.last_mut()?;
        if !last.1.is_empty() {
            last.1.push(' ');
        }
        last.1.push_str(more);
        Some(last.0.len() + last.1.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.push(
            "Via",
            "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push("via", "SIP/2.0/UDP c;branch=z9hG4bK3");
        h.push(
            "Contact",
            r#"<sip:x@y>;+sip.instance="<urn:a,b>", <sip:z@w>"#,
        );
        h.push("WWW-Authenticate", r#"Digest realm="r", nonce="n""#);
        h
    }

    #[test]
    fn get_all_splits_list_headers_only() {
        let h = sample();
        assert_eq!(h.get_all("v").count(), 3);
        assert_eq!(h.get_all("Contact").nth(1), Some("<sip:z@w>"));
        assert_eq!(h.get_all("www-authenticate").count(), 1);
        assert_eq!(
            h.get("VIA"),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b;branch=z9hG4bK2")
        );
    }

    #[test]
    fn set_remove_insert_pop() {
        let mut h = sample();
        assert_eq!(
            h.pop_first("Via").as_deref(),
            Some("SIP/2.0/UDP a;branch=z9hG4bK1")
        );
        assert_eq!(h.get_all("Via").count(), 2);
        h.set("Via", "SIP/2.0/TCP d");
        assert_eq!(h.get_all("Via").collect::<Vec<_>>(), vec!["SIP/2.0/TCP d"]);
        assert_eq!(h.iter().next().map(|f| f.0), Some("Via"));
        h.insert_front("Max-Forwards", "70");
        assert_eq!(h.iter().next(), Some(("Max-Forwards", "70")));
        h.remove("contact");
        assert!(!h.contains("m"));
    }

    #[test]
    fn values_cannot_inject_lines() {
        let mut h = Headers::new();
        h.push("Subject", "hi\r\nVia: evil");
        assert_eq!(h.get("s"), Some("hi  Via: evil"));
    }
}
