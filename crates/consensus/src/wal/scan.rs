//! Reading a segment at open: its intact frames in order, and where and why they stop.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::format::frame_header;
use super::format::FrameHeader;
use super::format::FRAME_HEADER;

/// How the frames of a segment end.
#[derive(Debug)]
pub(crate) struct End {
    /// Offset of the first byte after the last intact frame.
    pub(crate) at: u64,
    /// Why reading stopped there, when it was not the zeros after the last frame (or the end
    /// of the file).
    pub(crate) damage: Option<String>,
}

/// Reads `file` (`len` bytes) frame by frame from offset 0, handing each intact frame's
/// header, the offset of its records and the records to `each`, which says whether it
/// continues the log (a frame it refuses ends the reading like a damaged one).
pub(crate) fn frames(
    file: &File,
    len: u64,
    mut each: impl FnMut(FrameHeader, u64, &[u8]) -> Result<bool, String>,
) -> io::Result<End> {
    let mut at = 0u64;
    let mut buf = Vec::new();
    loop {
        let stop = |damage: Option<String>| Ok(End { at, damage });
        let left = len - at;
        if left < FRAME_HEADER as u64 {
            let mut rest = vec![0u8; left as usize];
            file.read_exact_at(&mut rest, at)?;
            return if rest.iter().all(|&b| b == 0) {
                stop(None)
            } else {
                stop(Some(format!(
                    "{left} bytes after the last frame, less than a header"
                )))
            };
        }
        let mut header = [0u8; FRAME_HEADER];
        file.read_exact_at(&mut header, at)?;
        if header.iter().all(|&b| b == 0) {
            return stop(None);
        }
        let Some(h) = frame_header(&header) else {
            return stop(Some("frame header fails its crc32".into()));
        };
        let body_at = at + FRAME_HEADER as u64;
        if h.len as u64 > len - body_at {
            return stop(Some(format!("frame of {} bytes runs past the file", h.len)));
        }
        buf.resize(h.len, 0);
        file.read_exact_at(&mut buf, body_at)?;
        if crc32fast::hash(&buf) != h.crc {
            return stop(Some(format!("frame {} fails its crc32", h.seq)));
        }
        match each(h, body_at, &buf) {
            Ok(true) => {}
            Ok(false) => return stop(Some(format!("frame {} does not continue the log", h.seq))),
            Err(reason) => return stop(Some(reason)),
        }
        at = body_at + h.len as u64;
    }
}

/// Bytes read at a time when looking for intact frames.
const WINDOW: usize = 1 << 20;

/// The first intact frame numbered `min_seq` or later that starts after `after` (`None`:
/// from 0) in `file`: its offset and number. Tries every offset, skipping zeros; a header
/// passing its crc by chance also needs its records to pass theirs.
pub(crate) fn intact_after(
    file: &File,
    len: u64,
    after: Option<u64>,
    min_seq: u64,
) -> io::Result<Option<(u64, u64)>> {
    let mut from = after.map_or(0, |a| a + 1);
    let mut window = vec![0u8; WINDOW + FRAME_HEADER];
    while from + FRAME_HEADER as u64 <= len {
        let n = ((len - from) as usize).min(window.len());
        file.read_exact_at(&mut window[..n], from)?;
        let last_start = n - FRAME_HEADER;
        let mut i = 0;
        while i <= last_start {
            if window[i] == 0 {
                // A header holds non-zero bytes: skip to the next one, less a header.
                match window[i..n].iter().position(|&b| b != 0) {
                    Some(p) => {
                        i = (i + p).saturating_sub(FRAME_HEADER - 1).max(i + 1);
                        continue;
                    }
                    None => break,
                }
            }
            let header: &[u8; FRAME_HEADER] = window[i..i + FRAME_HEADER]
                .try_into()
                .map_err(|_| io::Error::other("header slice"))?;
            if let Some(h) = frame_header(header) {
                let at = from + i as u64;
                let body_at = at + FRAME_HEADER as u64;
                if h.seq >= min_seq && h.len as u64 <= len - body_at {
                    let mut body = vec![0u8; h.len];
                    file.read_exact_at(&mut body, body_at)?;
                    if crc32fast::hash(&body) == h.crc {
                        return Ok(Some((at, h.seq)));
                    }
                }
            }
            i += 1;
        }
        if n < window.len() {
            break;
        }
        from += (last_start + 1) as u64;
    }
    Ok(None)
}
