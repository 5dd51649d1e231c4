// Custom domains: the hosts an app answers on besides `<app>.<domain>`, exact or one-label
// wildcards, validated and held by one app each. Router sync puts them in the route table.
export {
  DomainsService,
  type AppDomain,
  type DomainTarget,
  type DomainsServiceOptions,
  type DomainsState,
} from './service.js';
export { domainsState } from './state.js';
export { MAX_HOST_LENGTH, MAX_LABEL_LENGTH, parseCustomHost, type CustomHost } from './hostname.js';
