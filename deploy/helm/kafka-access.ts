import { Acl, SERVICE_PRINCIPALS, ServicePrincipal, serviceAcls } from '@warden/platform';

/**
 * The chart's KafkaUsers are the services' principals of the one access table
 * (libs/platform/src/kafka/access.ts, docs/security.md).
 */
export const CHART_SERVICES = SERVICE_PRINCIPALS;
export type ChartService = ServicePrincipal;
export type ChartAcl = Acl;
export { serviceAcls };
