//! Response bodies: small buffered ones, and streamed ones fed by a producer task.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Full};
use tokio::sync::mpsc;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type ResBody = UnsyncBoxBody<Bytes, BoxError>;

pub fn empty() -> ResBody {
    Empty::<Bytes>::new().map_err(|e| match e {}).boxed_unsync()
}

pub fn full(b: impl Into<Bytes>) -> ResBody {
    Full::new(b.into()).map_err(|e| match e {}).boxed_unsync()
}

/// A body fed through a bounded channel: the producer decrypts ahead while the previous piece
/// is being sent. An `Err` item aborts the response (hyper resets the connection), so a client
/// never receives a body completed with wrong bytes.
pub struct ChannelBody {
    rx: mpsc::Receiver<Result<Bytes, BoxError>>,
    remaining: u64,
}

impl ChannelBody {
    pub fn new(rx: mpsc::Receiver<Result<Bytes, BoxError>>, len: u64) -> Self {
        ChannelBody { rx, remaining: len }
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Ok(b))) => {
                self.remaining = self.remaining.saturating_sub(b.len() as u64);
                Poll::Ready(Some(Ok(Frame::data(b))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => {
                if self.remaining > 0 {
                    Poll::Ready(Some(Err("response body ended early".into())))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
