//! Just enough HTTP/1.1 for the proxy: read one request or response (head plus a body
//! framed by `Content-Length`, chunked transfer coding, or the end of the connection) and
//! write it back out with a `Content-Length` body.

use std::io::{self, BufRead, Read, Write};

/// Longest head line accepted (request line, status line or header).
const MAX_LINE: usize = 64 * 1024;
/// Most header lines accepted in one head.
const MAX_HEADERS: usize = 200;

/// The start line and headers of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The request line (`POST / HTTP/1.1`) or status line (`HTTP/1.1 200 OK`).
    pub start_line: String,
    /// Headers in the order received, names as sent.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether header `name` holds the comma-separated token `token` (case-insensitive).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The request method (first word of the start line).
    pub fn method(&self) -> &str {
        self.start_line.split(' ').next().unwrap_or("")
    }

    /// The status code of a response head (0 when the start line is not a status line).
    pub fn status(&self) -> u16 {
        self.start_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Whether the sender closes the connection after this message (`Connection: close`,
    /// or HTTP/1.0 without `keep-alive`).
    pub fn wants_close(&self) -> bool {
        if self.has_token("connection", "close") {
            return true;
        }
        let http10 = self.start_line.starts_with("HTTP/1.0") || self.start_line.ends_with("HTTP/1.0");
        http10 && !self.has_token("connection", "keep-alive")
    }

    /// Replaces every header `name` by one `name: value` (appended when absent).
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.remove_header(name);
        self.headers.push((name.to_string(), value.to_string()));
    }

    /// Removes every header `name`.
    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }
}

/// A whole message: head and decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Start line and headers.
    pub head: Head,
    /// The body, with any chunked coding removed.
    pub body: Vec<u8>,
    /// For a response read to the end of the connection: the sender closed it.
    pub closed_by_sender: bool,
}

impl Message {
    /// The message as bytes: the head with `Transfer-Encoding` dropped and
    /// `Content-Length` set to the body's length (kept absent for bodyless responses),
    /// followed by the body.
    pub fn to_bytes(&self, bodyless: bool) -> Vec<u8> {
        let mut head = self.head.clone();
        head.remove_header("transfer-encoding");
        if !bodyless {
            head.set_header("Content-Length", &self.body.len().to_string());
        }
        let mut out = Vec::with_capacity(self.body.len() + 512);
        out.extend_from_slice(head.start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (k, v) in &head.headers {
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    /// Writes [`Self::to_bytes`] to `w` and flushes.
    pub fn write_to<W: Write>(&self, w: &mut W, bodyless: bool) -> io::Result<()> {
        w.write_all(&self.to_bytes(bodyless))?;
        w.flush()
    }
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Reads one CRLF- (or LF-) terminated line without its terminator; `None` at EOF before
/// any byte.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.by_ref().take(MAX_LINE as u64 + 2).read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(if buf.len() > MAX_LINE {
            invalid("HTTP line too long")
        } else {
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside an HTTP line")
        });
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map(Some)
        .map_err(|_| invalid("HTTP head is not UTF-8"))
}

/// Reads a message head; `None` when the peer closed the connection before sending one.
pub fn read_head<R: BufRead>(r: &mut R) -> io::Result<Option<Head>> {
    let start_line = loop {
        match read_line(r)? {
            None => return Ok(None),
            // Tolerate stray empty lines between messages (RFC 9112 §2.2).
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| invalid("connection closed inside an HTTP head"))?;
        if line.is_empty() {
            break;
        }
        if headers.len() == MAX_HEADERS {
            return Err(invalid("too many HTTP headers"));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("malformed header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    Ok(Some(Head { start_line, headers }))
}

fn content_length(head: &Head) -> io::Result<Option<usize>> {
    head.header("content-length")
        .map(|v| {
            v.parse::<usize>()
                .map_err(|_| invalid(format!("bad Content-Length {v:?}")))
        })
        .transpose()
}

/// Reads a chunked body (RFC 9112 §7.1), discarding extensions and trailers.
fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| invalid("connection closed inside a chunked body"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailer section, up to an empty line.
            while let Some(trailer) = read_line(r)? {
                if trailer.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let end = read_line(r)?.ok_or_else(|| invalid("connection closed after a chunk"))?;
        if !end.is_empty() {
            return Err(invalid("chunk not followed by CRLF"));
        }
    }
}

/// Reads one request; `None` when the client closed the connection between requests.
pub fn read_request<R: BufRead>(r: &mut R) -> io::Result<Option<Message>> {
    let Some(head) = read_head(r)? else {
        return Ok(None);
    };
    let body = if head.has_token("transfer-encoding", "chunked") {
        read_chunked(r)?
    } else {
        let len = content_length(&head)?.unwrap_or(0);
        let mut body = vec![0; len];
        r.read_exact(&mut body)?;
        body
    };
    Ok(Some(Message {
        head,
        body,
        closed_by_sender: false,
    }))
}

/// Whether a response to a request with `method` and status `status` has no body.
pub fn is_bodyless(method: &str, status: u16) -> bool {
    method.eq_ignore_ascii_case("HEAD") || (100..200).contains(&status) || status == 204 || status == 304
}

/// Reads one final response to a `method` request, skipping interim (1xx) responses.
pub fn read_response<R: BufRead>(r: &mut R, method: &str) -> io::Result<Message> {
    loop {
        let head = read_head(r)?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed before a response"))?;
        let status = head.status();
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        if is_bodyless(method, status) {
            return Ok(Message {
                head,
                body: Vec::new(),
                closed_by_sender: false,
            });
        }
        if head.has_token("transfer-encoding", "chunked") {
            let body = read_chunked(r)?;
            return Ok(Message {
                head,
                body,
                closed_by_sender: false,
            });
        }
        if let Some(len) = content_length(&head)? {
            let mut body = vec![0; len];
            r.read_exact(&mut body)?;
            return Ok(Message {
                head,
                body,
                closed_by_sender: false,
            });
        }
        let mut body = Vec::new();
        r.read_to_end(&mut body)?;
        return Ok(Message {
            head,
            body,
            closed_by_sender: true,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn reads_keep_alive_requests_with_content_length_one_after_another() {
        let wire = b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\n\
                     Content-Length: 2\r\n\r\n{}GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut r = Cursor::new(&wire[..]);
        let first = read_request(&mut r).unwrap().unwrap();
        assert_eq!(first.head.method(), "POST");
        assert_eq!(first.head.header("x-amz-target"), Some("DynamoDB_20120810.PutItem"));
        assert_eq!(first.body, b"{}");
        let second = read_request(&mut r).unwrap().unwrap();
        assert_eq!(second.head.start_line, "GET /b HTTP/1.1");
        assert!(second.body.is_empty());
        assert!(read_request(&mut r).unwrap().is_none(), "clean EOF between requests");
    }

    #[test]
    fn decodes_chunked_bodies_and_reframes_them_with_content_length() {
        let wire = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
                     6;ext=1\r\nAction\r\n4\r\n=Get\r\n0\r\nTrailer: x\r\n\r\n";
        let msg = read_request(&mut Cursor::new(&wire[..])).unwrap().unwrap();
        assert_eq!(msg.body, b"Action=Get");
        let text = String::from_utf8(msg.to_bytes(false)).unwrap();
        assert!(!text.to_ascii_lowercase().contains("transfer-encoding"), "{text}");
        assert!(text.ends_with("Content-Length: 10\r\n\r\nAction=Get"), "{text}");
    }

    #[test]
    fn reads_responses_by_length_by_chunks_and_to_the_end() {
        let by_length = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcTAIL";
        let mut r = Cursor::new(&by_length[..]);
        let msg = read_response(&mut r, "POST").unwrap();
        assert_eq!(
            (msg.head.status(), msg.body.as_slice(), msg.closed_by_sender),
            (200, &b"abc"[..], false)
        );

        let chunked = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
        let msg = read_response(&mut Cursor::new(&chunked[..]), "POST").unwrap();
        assert_eq!((msg.head.status(), msg.body.as_slice()), (400, &b"ok"[..]));

        let to_end = b"HTTP/1.0 200 OK\r\n\r\nall of it";
        let msg = read_response(&mut Cursor::new(&to_end[..]), "GET").unwrap();
        assert_eq!((msg.body.as_slice(), msg.closed_by_sender), (&b"all of it"[..], true));
        assert!(msg.head.wants_close());

        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        let msg = read_response(&mut Cursor::new(&head[..]), "HEAD").unwrap();
        assert!(
            msg.body.is_empty(),
            "a HEAD response has no body whatever its length says"
        );
    }

    #[test]
    fn truncated_messages_are_errors_not_empty_messages() {
        let cut_body = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert!(read_request(&mut Cursor::new(&cut_body[..])).is_err());
        let cut_head = b"POST / HTTP/1.1\r\nHost: x\r\n";
        assert!(read_request(&mut Cursor::new(&cut_head[..])).is_err());
        let no_response = b"";
        let err = read_response(&mut Cursor::new(&no_response[..]), "POST").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        let bad_length = b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n";
        assert!(read_request(&mut Cursor::new(&bad_length[..])).is_err());
    }

    #[test]
    fn connection_tokens_decide_keep_alive() {
        let head = |start: &str, conn: Option<&str>| Head {
            start_line: start.into(),
            headers: conn
                .map(|c| vec![("Connection".to_string(), c.to_string())])
                .unwrap_or_default(),
        };
        assert!(!head("HTTP/1.1 200 OK", None).wants_close());
        assert!(head("HTTP/1.1 200 OK", Some("keep-alive, Close")).wants_close());
        assert!(head("HTTP/1.0 200 OK", None).wants_close());
        assert!(!head("HTTP/1.0 200 OK", Some("keep-alive")).wants_close());
        assert!(head("GET / HTTP/1.0", None).wants_close());
    }
}
