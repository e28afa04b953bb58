//! The docker-compose cluster of `deploy/` (services zk1, zk2, ...): faults through the
//! docker CLI, clients through the ports published on 127.0.0.1.

use std::process::Command;

use super::{Ensemble, EnsembleError};

/// One container per member of a running compose project.
pub struct Docker {
    services: Vec<String>,
    containers: Vec<String>,
    network: String,
    ports: Vec<u16>,
}

fn docker(args: &[&str]) -> Result<String, EnsembleError> {
    let what = format!("docker {}", args.join(" "));
    let out = Command::new("docker")
        .args(args)
        .output()
        .map_err(|source| EnsembleError::Io {
            what: what.clone(),
            source,
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(EnsembleError::Command {
            what,
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

impl Docker {
    /// Finds the containers of `project`'s services `zk1..zkN`, whose client ports are
    /// published on 127.0.0.1 at `ports` (in service order).
    pub fn discover(project: &str, ports: &[u16]) -> Result<Docker, EnsembleError> {
        let mut services = Vec::new();
        let mut containers = Vec::new();
        for i in 1..=ports.len() {
            let service = format!("zk{i}");
            let id = docker(&[
                "ps",
                "-a",
                "-q",
                "--filter",
                &format!("label=com.docker.compose.project={project}"),
                "--filter",
                &format!("label=com.docker.compose.service={service}"),
            ])?;
            let id = id.lines().next().unwrap_or_default().to_string();
            if id.is_empty() {
                return Err(EnsembleError::Command {
                    what: format!("finding service {service} of project {project}"),
                    detail: "no such container (is the cluster up? deploy/cluster.sh up)".into(),
                });
            }
            services.push(service);
            containers.push(id);
        }
        let networks = docker(&[
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            &containers[0],
        ])?;
        let network = networks
            .split_whitespace()
            .next()
            .ok_or_else(|| EnsembleError::Command {
                what: format!("finding the network of {}", containers[0]),
                detail: "the container is on no network".into(),
            })?
            .to_string();
        Ok(Docker {
            services,
            containers,
            network,
            ports: ports.to_vec(),
        })
    }

    fn on(&self, verb: &str, i: usize) -> Result<(), EnsembleError> {
        docker(&[verb, &self.containers[i]]).map(|_| ())
    }
}

impl Ensemble for Docker {
    fn size(&self) -> usize {
        self.containers.len()
    }

    fn client_addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.ports[i])
    }

    fn kill(&self, i: usize) -> Result<(), EnsembleError> {
        // SIGKILL; the restart policy leaves a killed container alone (a manual stop).
        self.on("kill", i)
    }

    fn restart(&self, i: usize) -> Result<(), EnsembleError> {
        self.on("start", i)
    }

    fn pause(&self, i: usize) -> Result<(), EnsembleError> {
        self.on("pause", i)
    }

    fn resume(&self, i: usize) -> Result<(), EnsembleError> {
        self.on("unpause", i)
    }

    fn isolate(&self, i: usize) -> Result<(), EnsembleError> {
        docker(&["network", "disconnect", &self.network, &self.containers[i]]).map(|_| ())
    }

    fn rejoin(&self, i: usize) -> Result<(), EnsembleError> {
        // Peers find each other by service name: the alias must come back with the link.
        docker(&[
            "network",
            "connect",
            "--alias",
            &self.services[i],
            &self.network,
            &self.containers[i],
        ])
        .map(|_| ())
    }

    fn describe(&self, i: usize) -> String {
        let logs = Command::new("docker")
            .args(["logs", "--tail", "15", &self.containers[i]])
            .output()
            .map(|o| {
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                )
            })
            .unwrap_or_else(|e| format!("(docker logs failed: {e})"));
        format!(
            "--- {} ({}) ---\n{logs}",
            self.services[i], self.containers[i]
        )
    }
}
