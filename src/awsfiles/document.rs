//! A lossless model of an AWS shared file (`~/.aws/credentials`, `~/.aws/config`): the text is
//! kept byte for byte, and parsing only indexes it (lines, sections, keys), so serialising an
//! unmodified document is the identity whatever it holds: comments with `#` and `;`, blank
//! lines, spacing around `=`, key case, CRLF or LF per line, a UTF-8 BOM, no trailing newline,
//! tabs, non-ASCII, nested sub-sections (`s3 =` then indented keys), duplicate sections and
//! keys, comments before the first section. Edits rewrite only the lines they touch.
//!
//! The grammar is the one botocore reads through Python's configparser: full-line comments
//! only (`#` inside a value is data), `=` or `:` between key and value, indented lines continue
//! the previous value. Sections are found by the name botocore gives them, which depends on the
//! file ([`Flavor`]): see [`Name::of`], the one function every lookup goes through.

use std::ops::Range;

use super::Flavor;

const BOM: &str = "\u{feff}";

/// Why a file can't be parsed: its 1-based line and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Blank,
    Comment,
    Header,
    /// `key = value`: the value starts at this byte offset (after the delimiter and spaces).
    Key {
        value_start: usize,
    },
    /// An indented line continuing the previous key's value (nested sub-section keys).
    Continuation,
}

#[derive(Debug, Clone)]
struct Line {
    /// Byte range of the content, without the line ending (and without a BOM).
    content: Range<usize>,
    /// Where the next line starts: `content.end` plus the length of the line ending.
    next: usize,
    kind: Kind,
}

impl Line {
    fn has_eol(&self) -> bool {
        self.next > self.content.end
    }
}

/// What botocore calls a section, the identity every lookup compares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Profile(String),
    SsoSession(String),
    Services(String),
    /// Any other section, known by its exact header text.
    Other(String),
}

impl Name {
    /// The name botocore gives the section headed `[header]` in a file of this flavor.
    ///
    /// configparser names a section by the exact text between `[` and the last `]` of its
    /// (stripped) line. The credentials file uses that as the profile name, so `[ dev ]` is
    /// profile ` dev `. The config file goes through botocore's `build_profile_map`: a name that
    /// starts with `profile` (then `sso-session`, `services`) and that `shlex.split` cuts into
    /// exactly two words names the second word (`[profile "dev"]`, `[profile   dev]`, even
    /// `[profilex dev]`), `default` is the default profile like `[profile default]`, and any
    /// other name is kept (or, a `profile…` name that does not split into two words, dropped)
    /// under its exact text.
    fn of(flavor: Flavor, header: &str) -> Self {
        if flavor == Flavor::Credentials {
            return Name::Profile(header.to_owned());
        }
        let kind: Option<fn(String) -> Name> = if header.starts_with("profile") {
            Some(Name::Profile)
        } else if header.starts_with("sso-session") {
            Some(Name::SsoSession)
        } else if header.starts_with("services") {
            Some(Name::Services)
        } else {
            None
        };
        if let Some(kind) = kind {
            return match shlex_split(header).as_deref() {
                Some([_, name]) => kind(name.clone()),
                _ => Name::Other(header.to_owned()),
            };
        }
        if header == "default" {
            Name::Profile(header.to_owned())
        } else {
            Name::Other(header.to_owned())
        }
    }
}

/// The header text of a (trimmed) header line: configparser's `\[(?P<header>.+)\]`, up to the
/// last `]`, spaces kept; `None` for a line that is no header.
pub fn header_text(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix('[')?;
    rest.rfind(']').map(|close| &rest[..close])
}

/// Whether botocore reads the line `line` of a file of `flavor` as the header of a section of
/// profile `profile` (`[profile "default"]`, `[profilex default]` and `[default]` are all the
/// default profile in a config file). The same naming every lookup of a [`Document`] uses, for
/// code that scans a file line by line.
pub fn heads_profile(flavor: Flavor, line: &str, profile: &str) -> bool {
    header_text(line.trim())
        .is_some_and(|header| Name::of(flavor, header) == Name::Profile(profile.to_owned()))
}

/// The profile the section headed `[header]` of a file of `flavor` belongs to, if any.
pub(super) fn profile_of(flavor: Flavor, header: &str) -> Option<String> {
    match Name::of(flavor, header) {
        Name::Profile(profile) => Some(profile),
        _ => None,
    }
}

/// Python's `shlex.split(text)` (POSIX mode, no comments), which botocore applies to config
/// section names; `None` where Python raises (an unclosed quote, a trailing backslash).
fn shlex_split(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    // `Some` once a word has begun, even an empty one: `""` is a word.
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => words.extend(word.take()),
            '\\' => word.get_or_insert_default().push(chars.next()?),
            '\'' => {
                let word = word.get_or_insert_default();
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => word.push(c),
                    }
                }
            }
            '"' => {
                let word = word.get_or_insert_default();
                loop {
                    match chars.next()? {
                        '"' => break,
                        // Inside double quotes a backslash escapes only `"` and itself.
                        '\\' => match chars.next()? {
                            c @ ('"' | '\\') => word.push(c),
                            c => {
                                word.push('\\');
                                word.push(c);
                            }
                        },
                        c => word.push(c),
                    }
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    Some(words)
}

#[derive(Debug, Clone)]
struct Section {
    /// The header's text between `[` and the last `]`, as written: configparser's name for it.
    text: String,
    /// What botocore calls it.
    name: Name,
    header: usize,
    /// The last line that is not blank or a comment (the header itself when there is none):
    /// comments and blank lines after it belong to whatever follows.
    last: usize,
}

/// An AWS shared file, parsed but kept byte for byte.
#[derive(Debug, Clone)]
pub struct Document {
    text: String,
    flavor: Flavor,
    lines: Vec<Line>,
    sections: Vec<Section>,
}

/// What [`Document::upsert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// Whether the section was new.
    pub created: bool,
    /// The bytes inserted before a new section to set it apart (empty otherwise); removing the
    /// section with the same separator restores the file exactly.
    pub separator: String,
}

/// A section whose name an earlier section already has (see [`Document::repeated_sections`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedSection {
    /// Its header text as written, and its 1-based line.
    pub header: String,
    pub line: usize,
    /// The earlier section's header text and line.
    pub earlier: String,
    pub earlier_line: usize,
    /// Whether the header text is exactly the earlier one's: configparser, and so botocore,
    /// then refuses the whole file. Otherwise botocore keeps only the last of them.
    pub same_text: bool,
}

/// A key that an earlier key of the same section already has (see
/// [`Document::repeated_keys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepeatedKey {
    /// The section's header text, the key as written, its 1-based line and the earlier key's.
    pub section: String,
    pub key: String,
    pub line: usize,
    pub earlier_line: usize,
}

impl Document {
    /// Parses `text` as a file of `flavor`, which decides how sections are named.
    pub fn parse(text: &str, flavor: Flavor) -> Result<Self, ParseError> {
        let mut lines = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        let mut start = if text.starts_with(BOM) { BOM.len() } else { 0 };
        let mut in_value = false;
        while start < text.len() {
            let (content_end, next) = match text[start..].find('\n') {
                Some(i) if text[..start + i].ends_with('\r') && start + i > start => {
                    (start + i - 1, start + i + 1)
                }
                Some(i) => (start + i, start + i + 1),
                None => (text.len(), text.len()),
            };
            let number = lines.len() + 1;
            let content = &text[start..content_end];
            let trimmed = content.trim();
            let error = |message: &str| ParseError {
                line: number,
                message: message.to_owned(),
            };
            let indented = content.starts_with([' ', '\t']);
            let kind = if trimmed.is_empty() {
                Kind::Blank
            } else if trimmed.starts_with(['#', ';']) {
                Kind::Comment
            } else if indented && in_value {
                Kind::Continuation
            } else if trimmed.starts_with('[') {
                let inner = header_text(trimmed)
                    .ok_or_else(|| error("a section header without a closing ]"))?;
                if inner.is_empty() {
                    return Err(error("a section header with no name"));
                }
                sections.push(Section {
                    text: inner.to_owned(),
                    name: Name::of(flavor, inner),
                    header: lines.len(),
                    last: lines.len(),
                });
                in_value = false;
                Kind::Header
            } else if let Some(delimiter) = content.find(['=', ':']) {
                if content[..delimiter].trim().is_empty() {
                    return Err(error("a value with no key before the ="));
                }
                if sections.is_empty() {
                    return Err(error("a key before the first [section] header"));
                }
                let after = &content[delimiter + 1..];
                let value_start = start + delimiter + 1 + (after.len() - after.trim_start().len());
                in_value = true;
                Kind::Key { value_start }
            } else {
                return Err(error(
                    "neither a [section] header, a key = value, nor a comment",
                ));
            };
            if matches!(kind, Kind::Key { .. } | Kind::Continuation)
                && let Some(section) = sections.last_mut()
            {
                section.last = lines.len();
            }
            lines.push(Line {
                content: start..content_end,
                next,
                kind,
            });
            start = next;
        }
        Ok(Self {
            text: text.to_owned(),
            flavor,
            lines,
            sections,
        })
    }

    /// The document's bytes: the original text with the edits applied.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The sections' headers in order, as written between the brackets (e.g. `profile  dev`),
    /// duplicates included; each one finds its section again.
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|s| s.text.as_str())
    }

    /// How many sections botocore calls `name` (`[profile "dev"]` and `[profile dev]` are both
    /// `profile dev` in the config file).
    pub fn count(&self, name: &str) -> usize {
        self.matching(name).count()
    }

    /// The text of the section called `name` (header to its last key), if there is one.
    pub fn section_text(&self, name: &str) -> Option<&str> {
        self.find(name).map(|s| &self.text[self.range(s)])
    }

    /// The byte range of the section `name` (header to the end of its last key line).
    pub fn section_range(&self, name: &str) -> Option<Range<usize>> {
        self.find(name).map(|s| self.range(s))
    }

    /// The value of `key` in the section `name` (the first, if repeated; keys match ignoring
    /// case, as botocore does).
    pub fn get(&self, name: &str, key: &str) -> Option<&str> {
        let section = self.find(name)?;
        self.keys(section)
            .find(|(_, k)| k.eq_ignore_ascii_case(key))
            .map(|(i, _)| self.value(i))
    }

    /// Sets `pairs` in the section `name` and deletes the keys in `remove`, creating the section
    /// at the end when missing. An existing section keeps its place, its other lines and the
    /// spacing of the lines it keeps. `name` must not be duplicated (see [`Self::count`]).
    /// Keys and values must be single-line; the result is checked to parse, and the document is
    /// left as it was when it would not.
    pub fn upsert(
        &mut self,
        name: &str,
        pairs: &[(&str, &str)],
        remove: &[&str],
    ) -> Result<Upserted, ParseError> {
        let single_line = |s: &str| !s.contains(['\n', '\r']);
        if !single_line(name)
            || pairs
                .iter()
                .any(|(k, v)| !single_line(k) || !single_line(v) || k.contains(['=', ':', '[']))
        {
            return Err(ParseError {
                line: 0,
                message: "a section name, key or value spans lines or a key holds = : [".to_owned(),
            });
        }
        let eol = self.eol();
        let Some(section) = self.find(name).cloned() else {
            let separator = self.separator_for_new_section();
            let mut block = format!("{separator}[{name}]{eol}");
            for (key, value) in pairs {
                block.push_str(&format!("{key} = {value}{eol}"));
            }
            let end = self.text.len();
            self.apply(vec![(end..end, block)])?;
            return Ok(Upserted {
                created: true,
                separator,
            });
        };

        let mut edits: Vec<(Range<usize>, String)> = Vec::new();
        let mut missing = Vec::new();
        let keys: Vec<(usize, String)> = self
            .keys(&section)
            .map(|(i, k)| (i, k.to_owned()))
            .collect();
        for (key, value) in pairs {
            let mut found = keys
                .iter()
                .filter(|(_, k)| k.eq_ignore_ascii_case(key))
                .map(|(i, _)| *i);
            match found.next() {
                Some(first) => {
                    let Kind::Key { value_start } = self.lines[first].kind else {
                        continue;
                    };
                    edits.push((
                        value_start..self.lines[first].content.end,
                        (*value).to_owned(),
                    ));
                    // A repeated key would make botocore fail; in a section credtray owns, the
                    // first one is the one that counts and the others go.
                    edits.extend(
                        found
                            .map(|i| self.entry_range(i))
                            .map(|r| (r, String::new())),
                    );
                }
                None => missing.push((*key, *value)),
            }
        }
        for key in remove {
            for (i, _) in keys.iter().filter(|(_, k)| k.eq_ignore_ascii_case(key)) {
                edits.push((self.entry_range(*i), String::new()));
            }
        }
        if !missing.is_empty() {
            let last = &self.lines[section.last];
            let mut block = String::new();
            if !last.has_eol() {
                block.push_str(&eol);
            }
            for (i, (key, value)) in missing.iter().enumerate() {
                block.push_str(&format!("{key} = {value}"));
                if last.has_eol() || i + 1 < missing.len() {
                    block.push_str(&eol);
                }
            }
            edits.push((last.next..last.next, block));
        }
        self.apply(edits)?;
        Ok(Upserted {
            created: false,
            separator: String::new(),
        })
    }

    /// Removes the section `name` (header to its last key), and `separator` before it when the
    /// bytes there are exactly that. Returns whether there was such a section.
    pub fn remove(&mut self, name: &str, separator: &str) -> bool {
        let Some(section) = self.find(name).cloned() else {
            return false;
        };
        let mut range = self.range(&section);
        if !separator.is_empty() && self.text[..range.start].ends_with(separator) {
            // The separator may start with the line break that ends the line before it; taking
            // it away must not glue that line to whatever now follows the section.
            let before = &self.text[..range.start - separator.len()];
            let after = &self.text[range.end..];
            let glues = !before.is_empty()
                && !before.ends_with('\n')
                && !after.is_empty()
                && !after.starts_with(['\n', '\r']);
            if !glues {
                range.start -= separator.len();
            }
        }
        // Removing whole lines from a document that parsed leaves one that parses.
        self.apply(vec![(range, String::new())]).is_ok()
    }

    /// Puts `text` (a whole section as [`Self::section_text`] gave it: header to last key
    /// line, line ending included) in place of the section `name`, or at the end when the
    /// section is missing; the rest of the document is untouched.
    pub fn restore(&mut self, name: &str, text: &str) -> Result<(), ParseError> {
        self.restore_at(name, text, None)
    }

    /// [`Self::restore`], putting a missing section back at byte `at` (where it was taken
    /// out) when that is still a place a section can go without
    /// taking in another's keys: the start of a line followed by nothing but blank lines and
    /// comments up to the next header or the end. Anywhere else, it goes at the end.
    pub fn restore_at(
        &mut self,
        name: &str,
        text: &str,
        at: Option<usize>,
    ) -> Result<(), ParseError> {
        let edit = match self.find(name).cloned() {
            Some(section) => {
                let range = self.range(&section);
                let mut text = text.to_owned();
                // The original was the file's last line; something follows it now.
                if !text.ends_with('\n') && range.end < self.text.len() {
                    text.push_str(&self.eol());
                }
                (range, text)
            }
            None => match at.filter(|&at| self.is_free_place(at)) {
                Some(at) => {
                    let mut text = text.to_owned();
                    if !text.ends_with('\n') && at < self.text.len() {
                        text.push_str(&self.eol());
                    }
                    (at..at, text)
                }
                None => {
                    let end = self.text.len();
                    (
                        end..end,
                        format!("{}{text}", self.separator_for_new_section()),
                    )
                }
            },
        };
        self.apply(vec![edit])
    }

    /// Whether a section inserted at byte `at` would take in no other section's keys.
    fn is_free_place(&self, at: usize) -> bool {
        if at == self.text.len() {
            return at == 0 || self.text.ends_with('\n');
        }
        let Some(first) = self.lines.iter().position(|l| l.content.start == at) else {
            return false;
        };
        self.lines[first..]
            .iter()
            .take_while(|l| l.kind != Kind::Header)
            .all(|l| matches!(l.kind, Kind::Blank | Kind::Comment))
    }

    /// Whether the text starts with a UTF-8 byte order mark (which botocore can't read past).
    pub fn has_bom(&self) -> bool {
        self.text.starts_with(BOM)
    }

    /// Sections that botocore names like an earlier one, in file order: with exactly the same
    /// header text, or spelled another way (`[profile  dev]` after `[profile "dev"]`).
    pub fn repeated_sections(&self) -> Vec<RepeatedSection> {
        let mut repeats = Vec::new();
        for (i, section) in self.sections.iter().enumerate() {
            let earlier = &self.sections[..i];
            let same_text = earlier.iter().find(|e| e.text == section.text);
            let Some(first) = same_text.or_else(|| earlier.iter().find(|e| e.name == section.name))
            else {
                continue;
            };
            repeats.push(RepeatedSection {
                header: section.text.clone(),
                line: section.header + 1,
                earlier: first.text.clone(),
                earlier_line: first.header + 1,
                same_text: same_text.is_some(),
            });
        }
        repeats
    }

    /// Keys repeated within one section, in file order; keys match ignoring case, as
    /// configparser compares them (it refuses the file then).
    pub fn repeated_keys(&self) -> Vec<RepeatedKey> {
        let mut repeats = Vec::new();
        for section in &self.sections {
            let keys: Vec<(usize, &str)> = self.keys(section).collect();
            for (n, (line, key)) in keys.iter().enumerate() {
                let key_lower = key.to_lowercase();
                if let Some((earlier, _)) = keys[..n]
                    .iter()
                    .find(|(_, k)| k.to_lowercase() == key_lower)
                {
                    repeats.push(RepeatedKey {
                        section: section.text.clone(),
                        key: (*key).to_owned(),
                        line: line + 1,
                        earlier_line: earlier + 1,
                    });
                }
            }
        }
        repeats
    }

    /// The sections botocore calls `name`: the one place names are compared.
    fn matching(&self, name: &str) -> impl Iterator<Item = &Section> {
        let name = Name::of(self.flavor, name);
        self.sections.iter().filter(move |s| s.name == name)
    }

    fn find(&self, name: &str) -> Option<&Section> {
        self.matching(name).next()
    }

    /// Bytes from the header to the end of the section's last key line, line ending included.
    fn range(&self, section: &Section) -> Range<usize> {
        self.lines[section.header].content.start..self.lines[section.last].next
    }

    /// The key lines of a section with their keys.
    fn keys<'a>(&'a self, section: &Section) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        (section.header + 1..=section.last).filter_map(move |i| {
            let line = &self.lines[i];
            match line.kind {
                Kind::Key { .. } => {
                    let content = &self.text[line.content.clone()];
                    content.find(['=', ':']).map(|d| (i, content[..d].trim()))
                }
                _ => None,
            }
        })
    }

    fn value(&self, line: usize) -> &str {
        match self.lines[line].kind {
            Kind::Key { value_start } => {
                self.text[value_start..self.lines[line].content.end].trim_end()
            }
            _ => "",
        }
    }

    /// A key line with the continuation lines that belong to it.
    fn entry_range(&self, line: usize) -> Range<usize> {
        let mut end = line;
        while self
            .lines
            .get(end + 1)
            .is_some_and(|l| l.kind == Kind::Continuation)
        {
            end += 1;
        }
        self.lines[line].content.start..self.lines[end].next
    }

    /// The file's line ending, judged by its first line: new lines match the old ones.
    pub fn line_ending(&self) -> String {
        self.eol()
    }

    fn eol(&self) -> String {
        match self.lines.iter().find(|l| l.has_eol()) {
            Some(l) if self.text[l.content.end..l.next].starts_with('\r') => "\r\n".to_owned(),
            _ => "\n".to_owned(),
        }
    }

    /// What goes between the existing text and a new section: nothing in an empty file, a
    /// blank line otherwise (plus the missing line ending of a last line).
    pub fn separator_for_new_section(&self) -> String {
        let eol = self.eol();
        match self.lines.last() {
            None => String::new(),
            Some(last) if !last.has_eol() => format!("{eol}{eol}"),
            Some(last) if last.kind == Kind::Blank => String::new(),
            Some(_) => eol,
        }
    }

    /// Applies non-overlapping edits; the document changes only if the result parses. Edits
    /// that start at the same byte land in the order given: an empty value at the very end of
    /// the text and the keys appended after it share that byte.
    fn apply(&mut self, edits: Vec<(Range<usize>, String)>) -> Result<(), ParseError> {
        let mut edits: Vec<(usize, (Range<usize>, String))> =
            edits.into_iter().enumerate().collect();
        // Last to first, so earlier offsets stay valid; of two at one byte, the later goes in first.
        edits.sort_by_key(|(i, (r, _))| std::cmp::Reverse((r.start, *i)));
        let mut text = self.text.clone();
        for (_, (range, replacement)) in edits {
            text.replace_range(range, &replacement);
        }
        *self = Self::parse(&text, self.flavor)?;
        Ok(())
    }
}
