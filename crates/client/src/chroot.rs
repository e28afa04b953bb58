//! The chroot (S2.3): prepended to every path the application passes, stripped from every path
//! the server returns (created names, watch events, ephemerals), so the application never sees
//! the server's real namespace.

use zk_wire::{MultiOp, MultiResult, Request, Response};

/// A chroot prefix such as `/app/a` (never `/`, never a trailing slash).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chroot(Option<String>);

impl Chroot {
    /// The chroot of a connect string (`None` for none).
    pub fn new(prefix: Option<String>) -> Chroot {
        Chroot(prefix.filter(|p| p != "/"))
    }

    /// The prefix, if any.
    pub fn prefix(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The server path for a client path.
    pub fn prepend(&self, path: &str) -> String {
        match &self.0 {
            None => path.to_string(),
            Some(root) if path == "/" => root.clone(),
            Some(root) => format!("{root}{path}"),
        }
    }

    /// The client path for a server path. A path outside the chroot (which a server should
    /// never send) is returned unchanged, as ZooKeeper's client does.
    pub fn strip(&self, path: &str) -> String {
        let Some(root) = &self.0 else {
            return path.to_string();
        };
        match path.strip_prefix(root.as_str()) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        }
    }

    /// Rewrites every path of a request into the server namespace.
    pub fn apply_to_request(&self, req: &mut Request) {
        if self.0.is_none() {
            return;
        }
        let p = |s: &mut String| *s = self.prepend(s);
        match req {
            Request::Create(r) | Request::Create2(r) | Request::CreateContainer(r) => {
                p(&mut r.path)
            }
            Request::CreateTtl(r) => p(&mut r.path),
            Request::Delete(r) => p(&mut r.path),
            Request::Exists(r) => p(&mut r.path),
            Request::GetData(r) => p(&mut r.path),
            Request::SetData(r) => p(&mut r.path),
            Request::GetAcl(r) => p(&mut r.path),
            Request::SetAcl(r) => p(&mut r.path),
            Request::GetChildren(r) | Request::GetChildren2(r) => p(&mut r.path),
            Request::Sync(r) => p(&mut r.path),
            Request::Check(r) => p(&mut r.path),
            Request::Multi(m) | Request::MultiRead(m) => {
                for op in &mut m.ops {
                    match op {
                        MultiOp::Create(r) | MultiOp::Create2(r) | MultiOp::CreateContainer(r) => {
                            p(&mut r.path)
                        }
                        MultiOp::CreateTtl(r) => p(&mut r.path),
                        MultiOp::Delete(r) => p(&mut r.path),
                        MultiOp::SetData(r) => p(&mut r.path),
                        MultiOp::Check(r) => p(&mut r.path),
                        MultiOp::GetChildren(r) => p(&mut r.path),
                        MultiOp::GetData(r) => p(&mut r.path),
                    }
                }
            }
            Request::CheckWatches(r) => p(&mut r.path),
            Request::RemoveWatches(r) => p(&mut r.path),
            Request::DeleteContainer(r) => p(&mut r.path),
            Request::GetEphemerals(r) => p(&mut r.prefix_path),
            Request::GetAllChildrenNumber(r) => p(&mut r.path),
            Request::AddWatch(r) => p(&mut r.path),
            Request::SetWatches(_)
            | Request::SetWatches2(_)
            | Request::Auth(_)
            | Request::Sasl(_)
            | Request::Reconfig(_)
            | Request::Ping
            | Request::WhoAmI
            | Request::CloseSession => {}
        }
    }

    /// Rewrites every path of a reply back into the client namespace.
    pub fn strip_response(&self, resp: &mut Response) {
        if self.0.is_none() {
            return;
        }
        let s = |x: &mut String| *x = self.strip(x);
        match resp {
            Response::Create(r) => s(&mut r.path),
            Response::Create2(r) | Response::CreateContainer(r) | Response::CreateTtl(r) => {
                s(&mut r.path)
            }
            Response::Sync(r) => s(&mut r.path),
            Response::GetEphemerals(r) => r.ephemerals.iter_mut().for_each(s),
            Response::Multi(m) | Response::MultiRead(m) => {
                for res in &mut m.results {
                    match res {
                        MultiResult::Create(r) => s(&mut r.path),
                        MultiResult::Create2(r) => s(&mut r.path),
                        _ => {}
                    }
                }
            }
            Response::Notification(ev) => s(&mut ev.path),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_wire::{CreateResponse, GetDataRequest, MultiRequest, MultiResponse, SetDataRequest};

    /// S2.3: paths in get the chroot, paths out lose it; the chroot itself reads as `/`.
    #[test]
    fn s2_3_prepend_and_strip() {
        let c = Chroot::new(Some("/app/a".into()));
        assert_eq!(c.prepend("/"), "/app/a");
        assert_eq!(c.prepend("/x/y"), "/app/a/x/y");
        assert_eq!(c.strip("/app/a"), "/");
        assert_eq!(c.strip("/app/a/x"), "/x");
        assert_eq!(c.strip("/app/ab"), "/app/ab");
        assert_eq!(c.strip("/other"), "/other");
        let none = Chroot::new(Some("/".into()));
        assert_eq!(none.prefix(), None);
        assert_eq!(none.prepend("/x"), "/x");
    }

    /// S2.3: multi ops and results are rewritten one by one.
    #[test]
    fn s2_3_multi_paths_are_rewritten() {
        let c = Chroot::new(Some("/r".into()));
        let mut req = Request::Multi(MultiRequest {
            ops: vec![
                MultiOp::SetData(SetDataRequest {
                    path: "/a".into(),
                    data: None,
                    version: -1,
                }),
                MultiOp::GetData(GetDataRequest {
                    path: "/b".into(),
                    watch: false,
                }),
            ],
        });
        c.apply_to_request(&mut req);
        let Request::Multi(m) = &req else { panic!() };
        assert!(matches!(&m.ops[0], MultiOp::SetData(r) if r.path == "/r/a"));
        assert!(matches!(&m.ops[1], MultiOp::GetData(r) if r.path == "/r/b"));
        let mut resp = Response::Multi(MultiResponse {
            results: vec![MultiResult::Create(CreateResponse {
                path: "/r/a0000000001".into(),
            })],
        });
        c.strip_response(&mut resp);
        let Response::Multi(m) = &resp else { panic!() };
        assert!(matches!(&m.results[0], MultiResult::Create(r) if r.path == "/a0000000001"));
    }
}
