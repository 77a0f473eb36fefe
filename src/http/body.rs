//! Reading a response body with a ceiling.
//!
//! reqwest decompresses gzip/deflate (azure_core switches those features on), so a few KiB on
//! the wire can become gigabytes in memory. The body is read chunk by chunk, after
//! decompression, and cut off at [`super::MAX_BODY`].

/// Why an attempt produced no response.
#[derive(Debug)]
pub enum AttemptError {
    Transport(reqwest::Error),
    /// The body (decompressed) passed the ceiling; the number is the ceiling in bytes.
    TooLarge(usize),
}

impl From<reqwest::Error> for AttemptError {
    fn from(e: reqwest::Error) -> Self {
        AttemptError::Transport(e)
    }
}

/// The whole body, or [`AttemptError::TooLarge`] as soon as it passes `cap` bytes.
pub async fn read_capped(mut resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, AttemptError> {
    // A declared length over the cap needs no reading (it may be a lie, so it is not trusted
    // the other way round).
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(AttemptError::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > cap {
            return Err(AttemptError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
