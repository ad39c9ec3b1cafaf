//! The small XML the Braintree gateway speaks (docs/payments.md#braintree): elements with dashed names,
//! `type`/`nil` attributes and text. A writer and a reader for exactly that; no DTDs, no
//! namespaces, no CDATA (the gateway sends none). Element names are normalised on read (`_` is
//! read as `-`), since the Python SDK sends snake_case names and the gateway answers dashed ones.

/// One element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub text: String,
    pub children: Vec<Node>,
}

impl Node {
    pub fn new(name: &str) -> Node {
        Node {
            name: name.to_string(),
            ..Node::default()
        }
    }

    /// An element holding text.
    pub fn text(name: &str, text: impl Into<String>) -> Node {
        Node {
            name: name.to_string(),
            text: text.into(),
            ..Node::default()
        }
    }

    /// An element with a `type` attribute (`boolean`, `integer`, `datetime`, `array`…).
    pub fn typed(name: &str, kind: &str, text: impl Into<String>) -> Node {
        let mut node = Node::text(name, text);
        node.attrs.push(("type".into(), kind.into()));
        node
    }

    pub fn with(mut self, child: Node) -> Node {
        self.children.push(child);
        self
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child with this (dashed) name.
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The text of the first child with this name, unless it is `nil` or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.child(name)
            .filter(|c| c.attr("nil") != Some("true"))
            .map(|c| c.text.trim())
            .filter(|t| !t.is_empty())
    }

    /// A path of child names.
    pub fn at(&self, path: &[&str]) -> Option<&Node> {
        path.iter().try_fold(self, |node, name| node.child(name))
    }

    /// The document, with an XML declaration.
    pub fn document(&self) -> String {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        out.push('<');
        out.push_str(&self.name);
        for (k, v) in &self.attrs {
            out.push_str(&format!(" {k}=\"{}\"", escape(v)));
        }
        if self.children.is_empty() && self.text.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        out.push_str(&escape(&self.text));
        for child in &self.children {
            child.write(out);
        }
        out.push_str(&format!("</{}>", self.name));
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find(';')
            .ok_or_else(|| "unterminated entity".to_string())?;
        let entity = &rest[at + 1..at + end];
        let c = match entity {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The deepest nesting accepted.
const MAX_DEPTH: usize = 32;

/// Parse a document into its root element.
pub fn parse(input: &str) -> Result<Node, String> {
    let mut parser = Parser { s: input, pos: 0 };
    parser.skip_prolog()?;
    let node = parser.element(0)?;
    parser.skip_misc()?;
    if parser.pos != parser.s.len() {
        return Err("content after the root element".into());
    }
    Ok(node)
}

pub fn parse_bytes(input: &[u8]) -> Result<Node, String> {
    parse(std::str::from_utf8(input).map_err(|_| "not UTF-8".to_string())?)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.s[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.s.len() - trimmed.len();
    }

    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<?") {
                let end = self.rest().find("?>").ok_or("unterminated declaration")?;
                self.pos += end + 2;
            } else if self.rest().starts_with("<!--") {
                let end = self.rest().find("-->").ok_or("unterminated comment")?;
                self.pos += end + 3;
            } else {
                return Ok(());
            }
        }
    }

    fn skip_prolog(&mut self) -> Result<(), String> {
        self.skip_misc()?;
        if self.rest().starts_with("<!") {
            return Err("DTDs are not accepted".into());
        }
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(format!("expected a name at byte {}", self.pos));
        }
        let name = self.rest()[..len].replace('_', "-");
        self.pos += len;
        Ok(name)
    }

    fn expect(&mut self, text: &str) -> Result<(), String> {
        if self.rest().starts_with(text) {
            self.pos += text.len();
            Ok(())
        } else {
            Err(format!("expected {text:?} at byte {}", self.pos))
        }
    }

    fn element(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        self.expect("<")?;
        let mut node = Node::new(&self.name()?);
        loop {
            self.skip_ws();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok(node);
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                break;
            }
            let key = self.name()?;
            self.skip_ws();
            self.expect("=")?;
            self.skip_ws();
            let quote = self.rest().chars().next().ok_or("unexpected end")?;
            if quote != '"' && quote != '\'' {
                return Err("expected a quoted attribute value".into());
            }
            self.pos += 1;
            let end = self.rest().find(quote).ok_or("unterminated attribute")?;
            let value = unescape(&self.rest()[..end])?;
            self.pos += end + 1;
            node.attrs.push((key, value));
        }
        let mut text = String::new();
        loop {
            let next = self.rest().find('<').ok_or("unterminated element")?;
            text.push_str(&unescape(&self.rest()[..next])?);
            self.pos += next;
            if self.rest().starts_with("</") {
                self.pos += 2;
                let closing = self.name()?;
                if closing != node.name {
                    return Err(format!("</{closing}> closes <{}>", node.name));
                }
                self.skip_ws();
                self.expect(">")?;
                break;
            } else if self.rest().starts_with("<!--") {
                let end = self.rest().find("-->").ok_or("unterminated comment")?;
                self.pos += end + 3;
            } else if self.rest().starts_with("<!") || self.rest().starts_with("<?") {
                return Err("unexpected markup".into());
            } else {
                node.children.push(self.element(depth + 1)?);
            }
        }
        node.text = if node.children.is_empty() {
            text
        } else {
            text.trim().to_string()
        };
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes_and_normalises_snake_case() {
        let doc = Node::new("transaction")
            .with(Node::text("amount", "10.00"))
            .with(Node::text("order-id", "ORD-1 & <x>"))
            .with(Node::new("options").with(Node::typed(
                "submit-for-settlement",
                "boolean",
                "true",
            )))
            .document();
        let node = parse(&doc).unwrap();
        assert_eq!(node.get("order-id"), Some("ORD-1 & <x>"));
        assert_eq!(
            node.at(&["options", "submit-for-settlement"])
                .and_then(|n| n.attr("type")),
            Some("boolean")
        );
        let python = parse(
            "<transaction><payment_method_nonce>fake-valid-nonce</payment_method_nonce><x nil=\"true\"/></transaction>",
        )
        .unwrap();
        assert_eq!(python.get("payment-method-nonce"), Some("fake-valid-nonce"));
        assert_eq!(python.get("x"), None);
    }

    #[test]
    fn refuses_broken_documents() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<!DOCTYPE a><a/>",
            "<a/><b/>",
            "<a>&bogus;</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
