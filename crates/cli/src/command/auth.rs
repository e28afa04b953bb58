//! `addauth scheme auth` and `whoami`.

use zk_client::Client;

use super::{exact, flags};
use crate::error::{CliError, ParseError};

/// `addauth`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddAuth {
    /// The scheme, e.g. `digest`.
    pub scheme: String,
    /// The credentials, e.g. `user:password`.
    pub auth: String,
}

impl AddAuth {
    /// Parses the arguments after `addauth`.
    pub fn parse(words: &[String]) -> Result<AddAuth, ParseError> {
        let f = flags("addauth", words, "", "")?;
        let [scheme, auth] = exact::<2>("addauth", f.args)?;
        Ok(AddAuth { scheme, auth })
    }

    /// Adds the identity to the session (the client sends it again after reconnects).
    pub async fn run(&self, zk: &Client) -> Result<(), CliError> {
        zk.add_auth(&self.scheme, self.auth.as_bytes())
            .await
            .map_err(|error| CliError::Keeper { error, path: None })
    }
}

/// `whoami`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoAmI;

impl WhoAmI {
    /// Parses the arguments after `whoami` (there are none).
    pub fn parse(words: &[String]) -> Result<WhoAmI, ParseError> {
        let f = flags("whoami", words, "", "")?;
        exact::<0>("whoami", f.args)?;
        Ok(WhoAmI)
    }

    /// Prints the identities as zkCli does.
    pub async fn run(&self, zk: &Client, out: &mut String) -> Result<(), CliError> {
        let ids = zk
            .whoami()
            .await
            .map_err(|error| CliError::Keeper { error, path: None })?;
        out.push_str("Auth scheme: User\n");
        for id in ids {
            out.push_str(&format!("{}: {}\n", id.auth_scheme, id.user));
        }
        Ok(())
    }
}
